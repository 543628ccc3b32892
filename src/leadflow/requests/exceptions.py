"""The request domain's own problem types (409s that clients tell apart by ``type``)."""

from __future__ import annotations

from leadflow.platform.problems import Conflict


class InvalidTransition(Conflict):
    """The transition table has no such move from the current status; the body lists the ``allowed`` targets."""

    type = "invalid-transition"


class FieldLocked(Conflict):
    """The caller's role may change the field, but not while the request is in this status."""

    type = "field-locked"
