"""The request state machine of SPEC §3.2 as data: statuses, queues, labels and the transition table.

Pure rules, no database: :mod:`leadflow.requests.transitions` asks :func:`resolve_move` whether a move exists and
who may make it, then :func:`check_move_fields` and :func:`missing_for_move` what it needs; the ``/requests/workflow``
endpoint and the docs print the same table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from leadflow.accounts.models import Role
from leadflow.platform.problems import FieldError, Forbidden, ValidationProblem
from leadflow.requests.exceptions import InvalidTransition


class Status(StrEnum):
    new = "new"
    callback = "callback"
    not_reached = "not_reached"
    awaiting_dispatch = "awaiting_dispatch"
    awaiting_acceptance = "awaiting_acceptance"
    accepted = "accepted"
    en_route = "en_route"
    in_progress = "in_progress"
    deferred = "deferred"
    done = "done"
    refused = "refused"


class Queue(StrEnum):
    intake = "intake"
    work = "work"
    both = "both"


# code: (Russian label, English label, queue)
STATUSES: dict[Status, tuple[str, str, Queue]] = {
    Status.new: ("Новая", "New", Queue.intake),
    Status.callback: ("Перезвонить", "Call back", Queue.intake),
    Status.not_reached: ("ТНО", "Not reached", Queue.intake),
    Status.awaiting_dispatch: ("Ожидает", "Awaiting dispatch", Queue.work),
    Status.awaiting_acceptance: ("Ожидает принятия", "Awaiting acceptance", Queue.work),
    Status.accepted: ("Принял", "Accepted", Queue.work),
    Status.en_route: ("В пути", "En route", Queue.work),
    Status.in_progress: ("В работе", "In progress", Queue.work),
    Status.deferred: ("Модерн", "Deferred", Queue.work),
    Status.done: ("Готово", "Done", Queue.work),
    Status.refused: ("Отказ", "Refused", Queue.both),
}

INTAKE = frozenset({Status.new, Status.callback, Status.not_reached})
AWAITING = frozenset({Status.awaiting_dispatch, Status.awaiting_acceptance})
WITH_MASTER = frozenset({Status.accepted, Status.en_route, Status.in_progress, Status.deferred})
# A master's jobs of a day on the dispatch board: offered, taken, under way, done (SPEC §14).
ON_BOARD = frozenset({Status.awaiting_acceptance, Status.done}) | WITH_MASTER
# Not yet on the way (nor further): such a job whose visit time has passed is late.
NOT_STARTED = frozenset({Status.awaiting_dispatch, Status.awaiting_acceptance, Status.accepted})


def label(status: str, lang: str = "ru") -> str:
    """The Russian label (what every answer carries), or the English one with ``lang="en"`` (English CSV)."""
    ru, en, _ = STATUSES[Status(status)]
    return en if lang == "en" else ru


def is_late(status: str, visit_at: dt.datetime | None, now: dt.datetime) -> bool:
    """A job is late when its visit time has passed and the master is not yet on the way (nor further)."""
    return visit_at is not None and visit_at < now and Status(status) in NOT_STARTED


def queue_of(status: str) -> Queue:
    return STATUSES[Status(status)][2]


def queue_statuses(queue: Queue) -> frozenset[Status]:
    """The statuses listed in a queue: its own and those that belong to both (refused)."""
    return frozenset(s for s, (_, _, q) in STATUSES.items() if q in (queue, Queue.both))


class Need(StrEnum):
    """What a move requires besides the right role (:func:`check_move_fields` and :func:`missing_for_move`: 422)."""

    booking = "booking"  # city, client phone, address and visit time are filled in
    reason = "reason"
    master = "master"  # master_id: an active master of the request's city
    other_master = "other_master"  # master_id: another master of the city (reassign)
    money = "money"  # result >= 0, expenses >= 0, expenses <= result
    note = "note"


@dataclass(frozen=True)
class Move:
    sources: frozenset[Status]
    target: Status
    roles: frozenset[Role]  # besides admin, who may make every move
    needs: frozenset[Need] = frozenset()
    description: str = ""

    def allows(self, role: Role) -> bool:
        return role is Role.admin or role in self.roles


OPERATOR_DIRECTOR = frozenset({Role.operator, Role.director})
MASTER_DIRECTOR = frozenset({Role.master, Role.director})
DIRECTOR = frozenset({Role.director})

# Reopening a refused request goes back to `new` when it never had a master, else to `awaiting_dispatch`.
MOVES: tuple[Move, ...] = (
    Move(INTAKE, Status.callback, OPERATOR_DIRECTOR, description="client asked to be called back"),
    Move(INTAKE, Status.not_reached, OPERATOR_DIRECTOR, description="client not reached"),
    Move(INTAKE, Status.awaiting_dispatch, OPERATOR_DIRECTOR, frozenset({Need.booking}), "order booked"),
    Move(INTAKE | AWAITING, Status.refused, OPERATOR_DIRECTOR, frozenset({Need.reason}), "refused at intake"),
    Move(
        frozenset({Status.awaiting_dispatch}),
        Status.awaiting_acceptance,
        DIRECTOR,
        frozenset({Need.master}),
        "offered to a master",
    ),
    Move(frozenset({Status.awaiting_acceptance}), Status.accepted, MASTER_DIRECTOR, description="master accepted"),
    Move(
        frozenset({Status.awaiting_acceptance}),
        Status.awaiting_dispatch,
        MASTER_DIRECTOR,
        description="master declined; the master is cleared",
    ),
    Move(frozenset({Status.accepted}), Status.en_route, MASTER_DIRECTOR, description="master on the way"),
    Move(
        frozenset({Status.accepted, Status.en_route}), Status.in_progress, MASTER_DIRECTOR, description="master on site"
    ),
    Move(
        frozenset({Status.in_progress, Status.deferred}),
        Status.done,
        MASTER_DIRECTOR,
        frozenset({Need.money}),
        "job finished, money reported",
    ),
    Move(
        frozenset({Status.in_progress}), Status.deferred, MASTER_DIRECTOR, frozenset({Need.note}), "job continues later"
    ),
    Move(frozenset({Status.deferred}), Status.in_progress, MASTER_DIRECTOR, description="job resumed"),
    Move(WITH_MASTER, Status.refused, MASTER_DIRECTOR, frozenset({Need.reason}), "refused on the job"),
    Move(
        frozenset({Status.awaiting_acceptance}) | WITH_MASTER,
        Status.awaiting_acceptance,
        DIRECTOR,
        frozenset({Need.other_master}),
        "reassigned to another master",
    ),
    Move(frozenset({Status.done}), Status.in_progress, DIRECTOR, frozenset({Need.reason}), "done request reopened"),
    Move(
        frozenset({Status.refused}),
        Status.new,
        DIRECTOR,
        frozenset({Need.reason}),
        "refused request reopened (it never had a master)",
    ),
    Move(
        frozenset({Status.refused}),
        Status.awaiting_dispatch,
        DIRECTOR,
        frozenset({Need.reason}),
        "refused request reopened (it had a master)",
    ),
)


def reopen_target(was_assigned: bool) -> Status:
    return Status.awaiting_dispatch if was_assigned else Status.new


def moves_from(current: Status, was_assigned: bool) -> list[Move]:
    """The moves the table offers from ``current`` for this request (whoever makes them)."""
    found = [m for m in MOVES if current in m.sources]
    if current is Status.refused:
        found = [m for m in found if m.target is reopen_target(was_assigned)]
    return found


def moves_for(current: Status, was_assigned: bool, role: Role) -> list[Move]:
    """The moves ``role`` may make from ``current`` for this request: what a page offers as buttons."""
    return [m for m in moves_from(current, was_assigned) if m.allows(role)]


def allowed_targets(current: Status, was_assigned: bool) -> list[str]:
    seen: dict[str, None] = {}
    for move in moves_from(current, was_assigned):
        seen[move.target.value] = None
    return list(seen)


def find_move(current: Status, target: Status, was_assigned: bool) -> Move | None:
    for move in moves_from(current, was_assigned):
        if move.target is target:
            return move
    return None


# The per-move checks of a transition ------------------------------------------------------------------------------
MOVE_FIELDS = ("master_id", "result", "expenses", "callback_at")  # the body fields only some moves take


def resolve_move(current: Status, target: Status, was_assigned: bool, role: Role) -> Move:
    """The move from ``current`` to ``target`` for this request: 409 ``invalid-transition`` (with the targets the
    table allows) when there is none, 403 when ``role`` may not make it."""
    move = find_move(current, target, was_assigned)
    if move is None:
        raise InvalidTransition(
            f"A request in status {current.value} cannot move to {target.value}.",
            allowed=allowed_targets(current, was_assigned),
            current_status=current.value,
        )
    if not move.allows(role):
        raise Forbidden(f"Your role may not move a request from {current.value} to {target.value}.")
    return move


def fields_taken(move: Move) -> frozenset[str]:
    """The fields of :data:`MOVE_FIELDS` this move uses: the callback time, the master, or the money."""
    takes = {"callback_at"} if move.target is Status.callback else set()
    if move.needs & {Need.master, Need.other_master}:
        takes.add("master_id")
    if Need.money in move.needs:
        takes |= {"result", "expenses"}
    return frozenset(takes)


def check_move_fields(move: Move, used_fields: Iterable[str]) -> None:
    """Refuse (422) the body fields the move does not use, rather than ignore them."""
    extra = sorted(set(used_fields) - fields_taken(move))
    if extra:
        raise ValidationProblem(
            f"These fields are not used by a move to {move.target.value}.",
            [FieldError(f, f"Not used by a move to {move.target.value}.") for f in extra],
        )


def missing_for_move(
    move: Move, address: str | None, visit_at: dt.datetime | None, reason: str | None, note: str | None
) -> list[FieldError]:
    """What the move needs and does not have: the booking's address and visit time (the request's), a reason, a
    note (a reason serves as one). Empty when the move may go ahead; the master and the money are checked apart."""
    errors: list[FieldError] = []
    if Need.booking in move.needs:
        if not address:
            errors.append(FieldError("address", "Fill in the address before booking the order."))
        if visit_at is None:
            errors.append(FieldError("visit_at", "Fill in the visit time before booking the order."))
    if Need.reason in move.needs and not reason:
        errors.append(FieldError("reason", "Give a reason."))
    if Need.note in move.needs and not (note or reason):
        errors.append(FieldError("note", "Say why the job continues later."))
    return errors


def markdown_table() -> str:
    """The transition table as docs/requests.md shows it (a test keeps the two equal)."""
    order = list(Status)
    lines = ["| from | to | who (besides admin) | requires |", "|---|---|---|---|"]
    for move in MOVES:
        sources = ", ".join(f"`{s.value}`" for s in sorted(move.sources, key=order.index))
        roles = ", ".join(sorted(r.value for r in move.roles))
        needs = ", ".join(sorted(n.value for n in move.needs)) or "—"
        lines.append(f"| {sources} | `{move.target.value}` | {roles} | {needs} |")
    return "\n".join(lines)
