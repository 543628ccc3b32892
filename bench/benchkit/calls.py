"""The provider's first event of a new inbound call (the payload of `shared/fixtures/mango/inbound_answered/01`): what
the benchmark, the locust scenarios and the intake latency probe post to the webhook."""

from __future__ import annotations

import time
import uuid
from typing import Any


def first_call_event(caller: str, line: str) -> dict[str, Any]:
    """A new call from ``caller`` to the campaign line ``line``, just appeared (unsigned: sign it with
    ``MangoProvider.delivery``)."""
    return {
        "entry_id": uuid.uuid4().hex,
        "call_id": uuid.uuid4().hex,
        "timestamp": int(time.time()),
        "seq": 1,
        "call_state": "Appeared",
        "location": "ivr",
        "from": {"number": caller},
        "to": {"number": line, "line_number": line},
    }
