"""The mapping rules of the LeadSchem import (docs/import.md), as pure functions: no database, no I/O.

Each function takes legacy values and answers the Leadflow value, or says why the row cannot be imported (a
``Refusal``), so that the writer only applies decisions made here and the tests can check every rule alone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from leadflow.accounts.models import Role
from leadflow.platform.money import CENT
from leadflow.platform.phones import PhoneError, normalize_phone
from leadflow.requests import money
from leadflow.requests.workflow import Status


class Refusal(ValueError):
    """A legacy row that breaks a Leadflow rule: skipped and listed in the report, never a crash."""


# Statuses ----------------------------------------------------------------------------------------------------------
# The eleven labels of the old application (SPEC §3.1), exact.
RUSSIAN_LABELS: dict[str, Status] = {
    "новая": Status.new,
    "перезвонить": Status.callback,
    "тно": Status.not_reached,
    "отказ": Status.refused,
    "ожидает": Status.awaiting_dispatch,
    "ожидает принятия": Status.awaiting_acceptance,
    "принял": Status.accepted,
    "в пути": Status.en_route,
    "в работе": Status.in_progress,
    "модерн": Status.deferred,
    "готово": Status.done,
}
# Values the old user interface and its clean-up wrote besides the labels: the nearest code, a guess each.
GUESSED: dict[str, Status] = {
    "pending": Status.awaiting_dispatch,
    "waiting": Status.awaiting_dispatch,
    "assigned": Status.awaiting_acceptance,
    "completed": Status.done,
    "complete": Status.done,
    "finished": Status.done,
    "cancelled": Status.refused,
    "canceled": Status.refused,
    "rejected": Status.refused,
    "declined": Status.refused,
    "no_order": Status.refused,
    "незаказ": Status.refused,
    "modern": Status.deferred,
    "postponed": Status.deferred,
    "callback": Status.callback,
    "call_back": Status.callback,
    "no_answer": Status.not_reached,
    "accepted": Status.accepted,
    "en_route": Status.en_route,
    "on_the_way": Status.en_route,
    "processing": Status.in_progress,
    "in_work": Status.in_progress,
}
# English words that are exactly one of our codes.
EXACT_ENGLISH = {"new": Status.new, "in_progress": Status.in_progress, "done": Status.done}
ARCHIVED = "archived"


@dataclass(frozen=True)
class StatusMapping:
    status: Status
    guessed: bool


def map_status(raw: str | None, has_result: bool) -> StatusMapping:
    """A legacy status string as a Leadflow code. ``archived`` was written by the old clean-up for done or refused
    rows: done when the request has a result, else refused (a guess). An empty status is the old default, ``Новая``.
    Anything else unknown is a :class:`Refusal`."""
    text = " ".join((raw or "").split()).lower()
    if not text:
        return StatusMapping(Status.new, guessed=True)
    if text in RUSSIAN_LABELS:
        return StatusMapping(RUSSIAN_LABELS[text], guessed=False)
    key = text.replace("-", "_").replace(" ", "_")
    if key in EXACT_ENGLISH:
        return StatusMapping(EXACT_ENGLISH[key], guessed=False)
    if key in {s.value for s in Status}:
        return StatusMapping(Status(key), guessed=True)
    if key in GUESSED:
        return StatusMapping(GUESSED[key], guessed=True)
    if key == ARCHIVED:
        return StatusMapping(Status.done if has_result else Status.refused, guessed=True)
    raise Refusal(f"unknown status {raw!r}")


# Accounts ----------------------------------------------------------------------------------------------------------
EMPLOYEE_ROLES: dict[str, Role] = {
    "admin": Role.admin,
    "director": Role.director,
    "manager": Role.director,
    "callcentr": Role.operator,
    "callcenter": Role.operator,
    "avitolog": Role.marketer,
}
# Which account table keeps a clashing login as it is: the first one imported. The others get a suffix.
ACCOUNT_TABLES = ("administrators", "employees", "masters")
LOGIN_SUFFIX = {"administrators": "admin", "employees": "staff", "masters": "master"}


def map_role(table: str, role_name: str | None) -> Role:
    """The Leadflow role of an account of ``table`` (``role_name`` from the legacy ``roles`` table)."""
    if table == "administrators":
        return Role.admin
    if table == "masters":
        return Role.master
    role = EMPLOYEE_ROLES.get((role_name or "").strip().lower())
    if role is None:
        raise Refusal(f"unknown role {role_name!r}")
    return role


def account_status(raw: str | None) -> str:
    """``active`` and ``busy`` can sign in; ``inactive`` (and anything else) is blocked."""
    return "active" if (raw or "active").strip().lower() in {"active", "busy"} else "blocked"


def unique_login(login: str, table: str, taken: set[str]) -> str:
    """``login``, or ``login-<suffix>`` (then ``-2``, ``-3`` …) when another account already has it, compared
    case-insensitively as Leadflow compares logins. ``taken`` holds lower-cased logins; the answer is added."""
    base = login.strip()
    candidate = base
    if candidate.lower() in taken:
        candidate = f"{base}-{LOGIN_SUFFIX[table]}"
        n = 2
        while candidate.lower() in taken:
            candidate = f"{base}-{LOGIN_SUFFIX[table]}-{n}"
            n += 1
    taken.add(candidate.lower())
    return candidate


# Phones ------------------------------------------------------------------------------------------------------------
def phone(raw: str | None, what: str) -> str:
    """A legacy phone as E.164 digits (SPEC §4), or a refusal naming the field."""
    try:
        return normalize_phone(raw or "")
    except PhoneError as exc:
        raise Refusal(f"{what} {raw!r}: {exc}") from None


# Dates -------------------------------------------------------------------------------------------------------------
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
FUTURE_SLACK = dt.timedelta(days=2)
VISIT_HORIZON = dt.timedelta(days=3 * 366)


def moment(value: dt.datetime | None, what: str, now: dt.datetime, horizon: dt.timedelta = FUTURE_SLACK) -> None:
    """Refuse a timestamp no business of this kind can have: before 2000 or after ``now + horizon``."""
    if value is None:
        return
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    if value < EARLIEST or value > now + horizon:
        raise Refusal(f"impossible {what} {value.isoformat()}")


def day(value: dt.date | None, what: str, today: dt.date) -> None:
    if value is None:
        return
    if value < EARLIEST.date() or value > today + FUTURE_SLACK:
        raise Refusal(f"impossible {what} {value.isoformat()}")


def birth_date(value: dt.date | None, today: dt.date) -> dt.date | None:
    """A master's birth date, or None when it cannot be one (before 1900 or less than 14 years ago)."""
    if value is None or value < dt.date(1900, 1, 1) or value > today.replace(year=today.year - 14):
        return None
    return value


# Money -------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RequestMoney:
    result: Decimal | None
    expenses: Decimal | None
    net_amount: Decimal | None
    master_handover: Decimal | None
    company_share: Decimal | None
    differences: dict[str, tuple[Decimal, Decimal | None]]  # field → (stored in LeadSchem, ours)


def request_money(
    result: Decimal | None,
    expenses: Decimal | None,
    net_amount: Decimal | None,
    master_handover: Decimal | None,
    share: Decimal,
    done: bool = True,
) -> RequestMoney:
    """The money of a request by our rule (requests/money.py): net = result − expenses, handover = net × share,
    computed for a done request only (as a move to done does; a request that is not done keeps its result and
    expenses, like a reopened one, without derived money). The legacy client computed the derived fields itself;
    every stored value that differs from ours is returned (a legacy zero default where we have none is no
    difference). Negative amounts, or expenses above the result of a done request, break the rule: a refusal."""
    stored = {"net_amount": net_amount, "master_handover": master_handover}
    spent = expenses if expenses is not None or result is None else Decimal(0)
    if (result is not None and result < 0) or (spent is not None and spent < 0):
        raise Refusal(f"negative money (result {result}, expenses {spent})")
    if result is None or not done:
        differences: dict[str, tuple[Decimal, Decimal | None]] = {
            f: (v, None) for f, v in stored.items() if v is not None and v != 0
        }
        kept = None if result is None else result.quantize(CENT)
        spent_kept = None if result is None or spent is None else spent.quantize(CENT)
        return RequestMoney(kept, spent_kept, None, None, None, differences)
    assert spent is not None
    if spent > result:
        raise Refusal(f"expenses {spent} exceed the result {result}")
    computed = money.compute(result, spent, share)
    ours = {"net_amount": computed.net_amount, "master_handover": computed.master_handover}
    differences = {
        f: (stored[f] or Decimal(0), ours.get(f)) for f in stored if (stored[f] or Decimal(0)).quantize(CENT) != ours[f]
    }
    return RequestMoney(
        computed.result,
        computed.expenses,
        computed.net_amount,
        computed.master_handover,
        computed.company_share,
        differences,
    )


# Cash desk ---------------------------------------------------------------------------------------------------------
INCOME_WORDS = ("приход", "доход", "income", "поступлен")
EXPENSE_WORDS = ("расход", "expense", "трат", "оплата", "зарплат", "аренд")


def type_kind(name: str) -> tuple[str, bool]:
    """The kind a legacy transaction type's name says (``income``/``expense``) and whether that is a guess (the name
    has neither word: income, guessed; the sign of each amount decides the kind of its transaction anyway)."""
    lowered = name.lower()
    if any(word in lowered for word in EXPENSE_WORDS):
        return "expense", False
    if any(word in lowered for word in INCOME_WORDS):
        return "income", False
    return "income", True


def signed_amount(amount: Decimal) -> tuple[str, Decimal]:
    """A legacy amount's sign as the kind (the UI wrote expenses negative) and the positive amount."""
    if amount == 0:
        raise Refusal("amount 0 (a transaction moves money)")
    return ("expense" if amount < 0 else "income"), abs(amount).quantize(Decimal("0.01"))


_HANDOVER_NOTE = re.compile(r"приход\s+по\s+заявке\s*(?:№|#|n)?\s*(\d+)", re.IGNORECASE)


def handover_request(notes: str | None) -> int | None:
    """The legacy request id of an income booked as ``Приход по заявке <id>``, or None."""
    match = _HANDOVER_NOTE.search(notes or "")
    return int(match.group(1)) if match else None


# Text --------------------------------------------------------------------------------------------------------------
def clip(value: str | None, size: int) -> str | None:
    """Text for a column of ``size`` characters: stripped, empty as None, cut at the limit."""
    if value is None:
        return None
    value = value.strip().replace("\x00", "")
    return value[:size] or None
