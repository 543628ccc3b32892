"""The per-move checks of a transition as pure functions (``workflow.resolve_move``, ``check_move_fields``,
``missing_for_move``): no database, no client; the API tests in test_transitions.py cover the same rules end to end.
"""

from __future__ import annotations

import datetime as dt

import pytest

from leadflow.accounts.models import Role
from leadflow.platform.problems import Forbidden, ValidationProblem
from leadflow.requests.exceptions import InvalidTransition
from leadflow.requests.workflow import (
    MOVE_FIELDS,
    Move,
    Status,
    check_move_fields,
    fields_taken,
    find_move,
    missing_for_move,
    resolve_move,
)

VISIT = dt.datetime(2030, 1, 15, 7, 0, tzinfo=dt.UTC)


def move_to(current: Status, target: Status, *, was_assigned: bool = False) -> Move:
    move = find_move(current, target, was_assigned)
    assert move is not None, f"{current} -> {target} is not in the table"
    return move


# resolve_move -----------------------------------------------------------------------------------------------------
def test_resolve_move_returns_the_table_row() -> None:
    move = resolve_move(Status.new, Status.awaiting_dispatch, False, Role.operator)
    assert move.target is Status.awaiting_dispatch
    assert Status.new in move.sources


def test_resolve_move_unknown_move_lists_the_allowed_targets() -> None:
    with pytest.raises(InvalidTransition) as caught:
        resolve_move(Status.new, Status.done, False, Role.admin)
    body = caught.value.body()
    assert body["status"] == 409
    assert body["type"].endswith("/invalid-transition")
    assert body["detail"] == "A request in status new cannot move to done."
    assert body["allowed"] == ["callback", "not_reached", "awaiting_dispatch", "refused"]
    assert body["current_status"] == "new"


@pytest.mark.parametrize(
    ("was_assigned", "allowed", "refused_target"),
    [(False, ["new"], Status.awaiting_dispatch), (True, ["awaiting_dispatch"], Status.new)],
)
def test_resolve_move_reopening_a_refused_request_depends_on_its_past(
    was_assigned: bool, allowed: list[str], refused_target: Status
) -> None:
    with pytest.raises(InvalidTransition) as caught:
        resolve_move(Status.refused, refused_target, was_assigned, Role.admin)
    assert caught.value.extra == {"allowed": allowed, "current_status": "refused"}
    assert resolve_move(Status.refused, Status(allowed[0]), was_assigned, Role.director).target is Status(allowed[0])


def test_resolve_move_refuses_a_role_the_move_does_not_name() -> None:
    with pytest.raises(Forbidden) as caught:
        resolve_move(Status.awaiting_dispatch, Status.awaiting_acceptance, False, Role.operator)
    assert caught.value.status == 403
    assert caught.value.detail == "Your role may not move a request from awaiting_dispatch to awaiting_acceptance."


def test_resolve_move_lets_an_admin_make_every_move() -> None:
    assert resolve_move(Status.done, Status.in_progress, True, Role.admin).target is Status.in_progress


def test_resolve_move_checks_existence_before_the_role() -> None:
    """A marketer asking for a move the table lacks learns the allowed targets (409), not 403."""
    with pytest.raises(InvalidTransition):
        resolve_move(Status.accepted, Status.done, True, Role.marketer)


# check_move_fields ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("current", "target", "taken"),
    [
        (Status.new, Status.callback, {"callback_at"}),
        (Status.new, Status.not_reached, set()),
        (Status.awaiting_dispatch, Status.awaiting_acceptance, {"master_id"}),
        (Status.accepted, Status.awaiting_acceptance, {"master_id"}),
        (Status.in_progress, Status.done, {"result", "expenses"}),
        (Status.in_progress, Status.deferred, set()),
    ],
)
def test_fields_taken_by_each_kind_of_move(current: Status, target: Status, taken: set[str]) -> None:
    assert fields_taken(move_to(current, target, was_assigned=True)) == taken
    assert fields_taken(move_to(current, target, was_assigned=True)) <= set(MOVE_FIELDS)


def test_check_move_fields_accepts_what_the_move_takes() -> None:
    check_move_fields(move_to(Status.in_progress, Status.done), ["result", "expenses"])
    check_move_fields(move_to(Status.new, Status.callback), iter(["callback_at"]))
    check_move_fields(move_to(Status.new, Status.not_reached), [])


def test_check_move_fields_names_every_unused_field_sorted() -> None:
    with pytest.raises(ValidationProblem) as caught:
        check_move_fields(move_to(Status.new, Status.callback), ["result", "callback_at", "master_id", "expenses"])
    problem = caught.value
    assert problem.status == 422
    assert problem.detail == "These fields are not used by a move to callback."
    assert problem.errors == [
        {"field": "expenses", "message": "Not used by a move to callback."},
        {"field": "master_id", "message": "Not used by a move to callback."},
        {"field": "result", "message": "Not used by a move to callback."},
    ]


def test_check_move_fields_on_a_move_that_takes_nothing() -> None:
    with pytest.raises(ValidationProblem) as caught:
        check_move_fields(move_to(Status.new, Status.not_reached), ["result", "master_id", "expenses", "callback_at"])
    assert [e["field"] for e in caught.value.errors or []] == ["callback_at", "expenses", "master_id", "result"]


def test_check_move_fields_refuses_a_callback_time_on_another_move() -> None:
    with pytest.raises(ValidationProblem) as caught:
        check_move_fields(move_to(Status.in_progress, Status.done), ["result", "expenses", "callback_at"])
    assert caught.value.errors == [{"field": "callback_at", "message": "Not used by a move to done."}]


# missing_for_move -------------------------------------------------------------------------------------------------
def test_missing_for_booking_names_address_and_visit_time() -> None:
    move = move_to(Status.new, Status.awaiting_dispatch)
    assert missing_for_move(move, None, None, None, None) == [
        {"field": "address", "message": "Fill in the address before booking the order."},
        {"field": "visit_at", "message": "Fill in the visit time before booking the order."},
    ]
    assert missing_for_move(move, "", VISIT, None, None) == [
        {"field": "address", "message": "Fill in the address before booking the order."}
    ]
    assert missing_for_move(move, "ул. Ленина, 1", VISIT, None, None) == []


def test_missing_reason() -> None:
    move = move_to(Status.new, Status.refused)
    assert missing_for_move(move, None, None, None, None) == [{"field": "reason", "message": "Give a reason."}]
    assert missing_for_move(move, None, None, "", "a note is not a reason") == [
        {"field": "reason", "message": "Give a reason."}
    ]
    assert missing_for_move(move, None, None, "client changed their mind", None) == []


def test_missing_note_is_satisfied_by_a_note_or_a_reason() -> None:
    move = move_to(Status.in_progress, Status.deferred)
    assert missing_for_move(move, None, None, None, None) == [
        {"field": "note", "message": "Say why the job continues later."}
    ]
    assert missing_for_move(move, None, None, None, "parts ordered") == []
    assert missing_for_move(move, None, None, "parts ordered", None) == []


def test_moves_without_needs_ask_for_nothing() -> None:
    assert missing_for_move(move_to(Status.new, Status.callback), None, None, None, None) == []
    assert missing_for_move(move_to(Status.accepted, Status.en_route), None, None, None, None) == []
