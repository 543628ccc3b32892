"""The LeadSchem mapping rules, one by one (pure functions: no database)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.accounts.models import Role
from leadflow.legacy import rules
from leadflow.legacy.media import locate
from leadflow.legacy.reader import SourceError, asyncpg_dsn, describe
from leadflow.requests.workflow import Status

NOW = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("Новая", Status.new),
        ("Перезвонить", Status.callback),
        ("ТНО", Status.not_reached),
        ("Отказ", Status.refused),
        ("Ожидает", Status.awaiting_dispatch),
        ("Ожидает Принятия", Status.awaiting_acceptance),
        ("ожидает  принятия ", Status.awaiting_acceptance),
        ("Принял", Status.accepted),
        ("В пути", Status.en_route),
        ("В работе", Status.in_progress),
        ("Модерн", Status.deferred),
        ("Готово", Status.done),
        ("new", Status.new),
        ("in_progress", Status.in_progress),
        ("In Progress", Status.in_progress),
        ("done", Status.done),
    ],
)
def test_the_labels_and_our_own_words_map_exactly(raw: str, status: Status) -> None:
    assert rules.map_status(raw, has_result=False) == rules.StatusMapping(status, guessed=False)


@pytest.mark.parametrize(
    ("raw", "has_result", "status"),
    [
        ("pending", False, Status.awaiting_dispatch),
        ("waiting", False, Status.awaiting_dispatch),
        ("assigned", False, Status.awaiting_acceptance),
        ("completed", True, Status.done),
        ("cancelled", False, Status.refused),
        ("НеЗаказ", False, Status.refused),
        ("modern", False, Status.deferred),
        ("archived", True, Status.done),
        ("archived", False, Status.refused),
        ("refused", False, Status.refused),
        ("", False, Status.new),
        (None, False, Status.new),
    ],
)
def test_other_values_map_by_guess(raw: str | None, has_result: bool, status: Status) -> None:
    assert rules.map_status(raw, has_result) == rules.StatusMapping(status, guessed=True)


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(rules.Refusal, match="unknown status 'Потерялся'"):
        rules.map_status("Потерялся", has_result=False)


@pytest.mark.parametrize(
    ("table", "role_name", "role"),
    [
        ("administrators", None, Role.admin),
        ("masters", None, Role.master),
        ("employees", "director", Role.director),
        ("employees", "manager", Role.director),
        ("employees", "callcentr", Role.operator),
        ("employees", "callcenter", Role.operator),
        ("employees", "avitolog", Role.marketer),
        ("employees", " Admin ", Role.admin),
    ],
)
def test_roles(table: str, role_name: str | None, role: Role) -> None:
    assert rules.map_role(table, role_name) is role


def test_an_unknown_employee_role_is_refused() -> None:
    with pytest.raises(rules.Refusal, match="unknown role 'courier'"):
        rules.map_role("employees", "courier")


def test_account_status() -> None:
    assert [rules.account_status(s) for s in ("active", "busy", None, "inactive", "fired")] == [
        "active",
        "active",
        "active",
        "blocked",
        "blocked",
    ]


def test_a_clashing_login_gets_the_table_suffix_then_a_number() -> None:
    taken: set[str] = set()
    assert rules.unique_login("Boss", "administrators", taken) == "Boss"
    assert rules.unique_login("boss", "employees", taken) == "boss-staff"
    assert rules.unique_login("BOSS", "employees", taken) == "BOSS-staff-2"
    assert rules.unique_login("boss", "masters", taken) == "boss-master"
    assert taken == {"boss", "boss-staff", "boss-staff-2", "boss-master"}


def test_phones_are_normalized_or_refused() -> None:
    assert rules.phone("+7 (916) 123-45-67", "phone") == "79161234567"
    assert rules.phone("8 916 123 45 67", "phone") == "79161234567"
    assert rules.phone("9161234567", "phone") == "79161234567"
    with pytest.raises(rules.Refusal, match="client phone 'нет'"):
        rules.phone("нет", "client phone")
    with pytest.raises(rules.Refusal):
        rules.phone(None, "phone")


def test_impossible_moments_and_days() -> None:
    rules.moment(NOW, "created_at", NOW)
    rules.moment(None, "created_at", NOW)
    for bad in (dt.datetime(1970, 1, 1, tzinfo=dt.UTC), NOW + dt.timedelta(days=3)):
        with pytest.raises(rules.Refusal, match="impossible created_at"):
            rules.moment(bad, "created_at", NOW)
    rules.moment(NOW + dt.timedelta(days=300), "meeting_date", NOW, rules.VISIT_HORIZON)  # a visit may be ahead
    with pytest.raises(rules.Refusal):
        rules.moment(dt.datetime(2999, 1, 1, tzinfo=dt.UTC), "meeting_date", NOW, rules.VISIT_HORIZON)
    rules.day(dt.date(2026, 11, 1), "specified_date", NOW.date())
    with pytest.raises(rules.Refusal, match="impossible specified_date 1900-01-01"):
        rules.day(dt.date(1900, 1, 1), "specified_date", NOW.date())
    assert rules.birth_date(dt.date(1850, 1, 1), NOW.date()) is None
    assert rules.birth_date(dt.date(2020, 1, 1), NOW.date()) is None
    assert rules.birth_date(dt.date(1985, 5, 5), NOW.date()) == dt.date(1985, 5, 5)


def test_money_is_recomputed_and_differences_listed() -> None:
    agreed = rules.request_money(Decimal(5000), Decimal(1000), Decimal(4000), Decimal(2000), Decimal("0.50"))
    assert (agreed.net_amount, agreed.master_handover, agreed.differences) == (Decimal(4000), Decimal(2000), {})
    odd = rules.request_money(Decimal(3001), Decimal(0), Decimal(3000), Decimal(1500), Decimal("0.50"))
    assert odd.master_handover == Decimal("1500.50")  # half-up, our rule
    assert odd.differences == {
        "net_amount": (Decimal(3000), Decimal("3001.00")),
        "master_handover": (Decimal(1500), Decimal("1500.50")),
    }
    no_expenses = rules.request_money(Decimal(1000), None, None, None, Decimal("0.40"))
    assert (no_expenses.expenses, no_expenses.master_handover) == (Decimal("0.00"), Decimal("400.00"))
    assert set(no_expenses.differences) == {"net_amount", "master_handover"}  # the old client never computed them


def test_a_request_not_done_keeps_its_amounts_without_derived_money() -> None:
    money = rules.request_money(Decimal(900), Decimal(1000), Decimal(-100), Decimal(-50), Decimal("0.50"), done=False)
    assert (money.result, money.expenses, money.net_amount, money.master_handover) == (
        Decimal("900.00"),
        Decimal("1000.00"),
        None,
        None,
    )
    assert money.differences == {"net_amount": (Decimal(-100), None), "master_handover": (Decimal(-50), None)}
    with pytest.raises(rules.Refusal, match="negative"):
        rules.request_money(Decimal(-1), None, None, None, Decimal("0.50"), done=False)


def test_a_request_without_result_has_no_money() -> None:
    money = rules.request_money(None, Decimal(0), Decimal(0), Decimal(0), Decimal("0.50"))
    assert (money.result, money.net_amount, money.company_share, money.differences) == (None, None, None, {})
    stale = rules.request_money(None, None, Decimal(100), None, Decimal("0.50"))
    assert stale.differences == {"net_amount": (Decimal(100), None)}


@pytest.mark.parametrize(
    ("result", "expenses", "message"),
    [
        (Decimal(-1), Decimal(0), "negative money"),
        (Decimal(100), Decimal(-5), "negative"),
        (Decimal(10), Decimal(20), "exceed"),
    ],
)
def test_money_that_breaks_the_rule_is_refused(result: Decimal, expenses: Decimal, message: str) -> None:
    with pytest.raises(rules.Refusal, match=message):
        rules.request_money(result, expenses, None, None, Decimal("0.50"))


@given(
    result=st.decimals(min_value=0, max_value=10**8, places=2),
    part=st.decimals(min_value=0, max_value=1, places=2),
    share=st.decimals(min_value=0, max_value=1, places=2),
)
def test_recomputed_money_follows_the_rule(result: Decimal, part: Decimal, share: Decimal) -> None:
    expenses = (result * part).quantize(Decimal("0.01"))
    money = rules.request_money(result, expenses, Decimal(0), Decimal(0), share)
    assert money.net_amount == result - expenses
    assert money.master_handover is not None and abs(money.master_handover - money.net_amount * share) <= Decimal(
        "0.005"
    )


def test_signs_become_kinds() -> None:
    assert rules.signed_amount(Decimal("-500.00")) == ("expense", Decimal("500.00"))
    assert rules.signed_amount(Decimal("2000")) == ("income", Decimal("2000.00"))
    with pytest.raises(rules.Refusal, match="amount 0"):
        rules.signed_amount(Decimal(0))


def test_type_kinds_from_names() -> None:
    assert rules.type_kind("Приход") == ("income", False)
    assert rules.type_kind("Доход от заявок") == ("income", False)
    assert rules.type_kind("Расход") == ("expense", False)
    assert rules.type_kind("Зарплата") == ("expense", False)
    assert rules.type_kind("Прочее") == ("income", True)


def test_handover_notes() -> None:
    assert rules.handover_request("Приход по заявке 17") == 17
    assert rules.handover_request("приход по заявке №17, наличные") == 17
    assert rules.handover_request("Приход по заявке #5") == 5
    assert rules.handover_request("Приход") is None
    assert rules.handover_request(None) is None


def test_clip() -> None:
    assert rules.clip("  текст\x00 ", 100) == "текст"
    assert rules.clip("   ", 10) is None
    assert rules.clip("abcdef", 3) == "abc"


def test_files_are_found_under_the_media_directory_only(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "bso").mkdir(parents=True)
    (media / "bso" / "a.png").write_bytes(b"x")
    (tmp_path / "secret.txt").write_text("no")
    found = (media / "bso" / "a.png").resolve()
    assert locate(media, "/app/media/bso/a.png") == found
    assert locate(media, "bso/a.png") == found
    assert locate(media, "C:\\uploads\\bso\\a.png") == found
    assert locate(media, "bso/missing.png") is None
    assert locate(media, "../secret.txt") is None
    assert locate(media, "/" + str(tmp_path / "secret.txt")) is None
    (media / "link").symlink_to(tmp_path / "secret.txt")
    assert locate(media, "link") is None


def test_source_urls() -> None:
    assert asyncpg_dsn("postgresql+asyncpg://u:p@h:5433/db") == "postgresql://u:p@h:5433/db"
    assert asyncpg_dsn("postgres://u@h/db") == "postgresql://u@h/db"
    with pytest.raises(SourceError, match="must be a postgresql:// URL"):
        asyncpg_dsn("sqlite:///x.db")
    assert describe("postgresql://user:secret@db.example:5433/leadschem") == "db.example:5433/leadschem"
