"""SPEC §3.2, the request state machine, as written in the SPEC: a literal copy, independent of ``workflow.MOVES``.

``test_transitions`` and ``test_properties`` take their expected answers from here; ``test_transitions`` also checks
that ``/requests/workflow`` and ``workflow.MOVES`` agree with this copy.
"""

from __future__ import annotations

STATUSES = [
    "new",
    "callback",
    "not_reached",
    "awaiting_dispatch",
    "awaiting_acceptance",
    "accepted",
    "en_route",
    "in_progress",
    "deferred",
    "done",
    "refused",
]
INTAKE = ("new", "callback", "not_reached")
AWAITING = ("awaiting_dispatch", "awaiting_acceptance")
WITH_MASTER = ("accepted", "en_route", "in_progress", "deferred")
OP_DIR = frozenset({"operator", "director"})
MA_DIR = frozenset({"master", "director"})
DIR = frozenset({"director"})
# A refused request reopens to `new` or `awaiting_dispatch` depending on whether it ever had a master, so the
# table knows two refused states: "refused" (never assigned) and "refused_assigned" (stored status: refused).
REFUSED_ASSIGNED = "refused_assigned"
STATES = [*STATUSES, REFUSED_ASSIGNED]


def _spec_table() -> dict[tuple[str, str], frozenset[str]]:
    """SPEC §3.2 as written: (from state, to) → the roles besides admin that may make the move."""
    rows: list[tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]] = [
        (INTAKE, ("callback", "not_reached"), OP_DIR),
        (INTAKE, ("awaiting_dispatch",), OP_DIR),
        (INTAKE + AWAITING, ("refused",), OP_DIR),
        (("awaiting_dispatch",), ("awaiting_acceptance",), DIR),
        (("awaiting_acceptance",), ("accepted", "awaiting_dispatch"), MA_DIR),
        (("accepted",), ("en_route", "in_progress"), MA_DIR),
        (("en_route",), ("in_progress",), MA_DIR),
        (("in_progress", "deferred"), ("done",), MA_DIR),
        (("in_progress",), ("deferred",), MA_DIR),
        (("deferred",), ("in_progress",), MA_DIR),
        (WITH_MASTER, ("refused",), MA_DIR),
        (("awaiting_acceptance", *WITH_MASTER), ("awaiting_acceptance",), DIR),
        (("done",), ("in_progress",), DIR),
        (("refused",), ("new",), DIR),
        ((REFUSED_ASSIGNED,), ("awaiting_dispatch",), DIR),
    ]
    table: dict[tuple[str, str], frozenset[str]] = {}
    for sources, targets, roles in rows:
        for source in sources:
            for target in targets:
                assert (source, target) not in table
                table[(source, target)] = roles
    return table


SPEC_TABLE = _spec_table()


def state_of(status: str, was_assigned: bool) -> str:
    """The table's state of a request: its status, except a refused request that ever had a master."""
    return REFUSED_ASSIGNED if status == "refused" and was_assigned else status


def status_of(state: str) -> str:
    """The stored status of a table state."""
    return "refused" if state == REFUSED_ASSIGNED else state


def spec_allowed(state: str) -> set[str]:
    """The targets the table offers from ``state``."""
    return {to for (source, to) in SPEC_TABLE if source == state}
