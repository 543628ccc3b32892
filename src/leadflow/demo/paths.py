"""How a demo request reaches each status: the moves of SPEC §3.2 in order, shared by both demo data sets."""

from __future__ import annotations

from leadflow.requests.workflow import Status

BOOKED = [Status.awaiting_dispatch]
OFFERED = [*BOOKED, Status.awaiting_acceptance]
ON_SITE = [*OFFERED, Status.accepted, Status.en_route, Status.in_progress]

PATHS: dict[Status, list[Status]] = {
    Status.new: [],
    Status.callback: [Status.callback],
    Status.not_reached: [Status.not_reached],
    Status.awaiting_dispatch: BOOKED,
    Status.awaiting_acceptance: OFFERED,
    Status.accepted: [*OFFERED, Status.accepted],
    Status.en_route: [*OFFERED, Status.accepted, Status.en_route],
    Status.in_progress: ON_SITE,
    Status.deferred: [*ON_SITE, Status.deferred],
    Status.done: [*ON_SITE, Status.done],
    Status.refused: [Status.not_reached, Status.refused],
}
# A refusal after a master had the job, for variety in the demo.
REFUSED_ON_SITE = [*OFFERED, Status.accepted, Status.refused]
