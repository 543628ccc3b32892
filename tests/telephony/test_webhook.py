"""The Mango Office webhook (SPEC §6.1) replayed with the provider's recorded payloads."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from leadflow.requests.models import Request
from tests.conftest import Harness, problem
from tests.telephony.mango import (
    API_KEY,
    FORM,
    KNOWN_LINE,
    UNKNOWN_LINE,
    deliver,
    fixture,
    post_payload,
    scenario,
    signed_body,
)

ANSWERED_ENTRY = "MTAwMDAwMDAwMTo1MDE="


@pytest.fixture
async def tel(harness_factory: Any) -> Harness:
    return await harness_factory(mango_api_key=API_KEY, mango_api_salt="testsalt0mango0fixture0000000001")  # type: ignore[no-any-return]


async def setup_line(h: Harness, line: str = KNOWN_LINE) -> tuple[httpx.AsyncClient, int, int]:
    admin = await h.as_user(await h.user("admin"))
    city = await h.city()
    answer = await admin.post("/api/v1/campaigns", json={"city_id": city.id, "name": "Avito", "phone": line})
    assert answer.status_code == 201, answer.text
    return admin, city.id, answer.json()["id"]


async def calls(admin: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await admin.get("/api/v1/calls", params={"per_page": 200, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


async def requests_of(admin: httpx.AsyncClient, phone: str) -> list[dict[str, Any]]:
    answer = await admin.get("/api/v1/requests", params={"q": phone, "per_page": 200})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]  # type: ignore[no-any-return]


async def test_answered_call_creates_one_request_and_fills_timings(tel: Harness) -> None:
    admin, city_id, campaign_id = await setup_line(tel)
    for item in scenario("inbound_answered"):
        answer = await deliver(tel.client, item)
        assert answer.status_code == 200, answer.text
    [call] = await calls(admin)
    assert call["entry_id"] == ANSWERED_ENTRY
    assert call["outcome"] == "created_request"
    assert call["caller"] == "79031112233"
    assert call["line"] == KNOWN_LINE
    assert call["campaign_id"] == campaign_id
    assert call["city_id"] == city_id
    assert call["direction"] == "inbound"
    assert call["started_at"] == "2025-07-15T08:02:51Z"
    assert call["answered_at"] == "2025-07-15T08:03:07Z"
    assert call["ended_at"] == "2025-07-15T08:05:40Z"
    assert call["duration_s"] == 153
    [lead] = await requests_of(admin, "79031112233")
    assert lead["id"] == call["request_id"]
    assert lead["status"] == "new"
    assert lead["source"] == "telephony"
    assert lead["campaign_id"] == campaign_id
    assert lead["city_id"] == city_id
    assert lead["ats_number"] == KNOWN_LINE
    assert lead["request_type"]["code"] == "first_time"
    events = (await admin.get(f"/api/v1/requests/{lead['id']}/events")).json()["items"]
    assert [e["kind"] for e in events] == ["created"]
    assert events[0]["data"]["entry_id"] == ANSWERED_ENTRY


async def test_missed_call_has_zero_duration_and_no_answer(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    for item in scenario("missed"):
        assert (await deliver(tel.client, item)).status_code == 200
    [call] = await calls(admin)
    assert call["outcome"] == "created_request"
    assert call["answered_at"] is None
    assert call["duration_s"] == 0
    assert call["ended_at"] == "2025-07-15T11:21:02Z"


@pytest.mark.parametrize("order", ["twice", "shuffled", "reversed"])
async def test_redelivery_and_any_order_change_nothing(tel: Harness, order: str) -> None:
    admin, _, _ = await setup_line(tel)
    items = scenario("inbound_answered") + scenario("missed") + scenario("unknown_line")
    if order == "twice":
        items = items + items
    elif order == "shuffled":
        random.Random(7).shuffle(items)
        items = items + random.Random(8).sample(items, len(items))
    else:
        items = list(reversed(items))
    for item in items:
        assert (await deliver(tel.client, item)).status_code == 200
    found = {c["entry_id"]: c for c in await calls(admin)}
    assert len(found) == 3
    assert found[ANSWERED_ENTRY]["duration_s"] == 153
    assert found[ANSWERED_ENTRY]["started_at"] == "2025-07-15T08:02:51Z"
    assert found[ANSWERED_ENTRY]["answered_at"] == "2025-07-15T08:03:07Z"
    assert found[ANSWERED_ENTRY]["ended_at"] == "2025-07-15T08:05:40Z"
    outcomes = sorted(c["outcome"] for c in found.values())
    assert outcomes == ["created_request", "created_request", "unmatched_line"]
    assert len(await requests_of(admin, "79031112233")) == 1
    assert len(await requests_of(admin, "79161234500")) == 1
    assert await requests_of(admin, "79265550077") == []


async def test_bad_signature_changes_nothing(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await deliver(tel.client, fixture("quirks/bad_signature_call"))
    problem(answer, 403, "bad-signature")
    wrong_key = signed_body(fixture("inbound_answered/01_call_ivr_appeared")["request"]["form"]["json"], key="x" * 32)
    problem(await tel.client.post("/api/v1/telephony/mango/events/call", content=wrong_key, headers=FORM), 403)
    assert await calls(admin) == []
    assert await requests_of(admin, "79031112233") == []


async def test_unknown_line_is_recorded_for_admins_only(tel: Harness) -> None:
    admin, city_id, _ = await setup_line(tel)
    for item in scenario("unknown_line"):
        assert (await deliver(tel.client, item)).status_code == 200
    [call] = await calls(admin, outcome="unmatched_line")
    assert call["line"] == UNKNOWN_LINE
    assert call["request_id"] is None and call["campaign_id"] is None
    director = await tel.as_user(await tel.user("director", cities=[city_id]))
    operator = await tel.as_user(await tel.user("operator"))
    assert await calls(director) == []
    assert await calls(operator) == []


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("quirks/hidden_caller_id_call", "ignored"),
        ("quirks/outbound_call_no_line", "ignored"),
        ("quirks/sip_line_number_call", "unmatched_line"),
        ("quirks/legacy_string_types_call", "created_request"),
    ],
)
async def test_quirks(tel: Harness, name: str, outcome: str) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await deliver(tel.client, fixture(name))
    assert answer.status_code == 200, answer.text
    [call] = await calls(admin)
    assert call["outcome"] == outcome
    assert (call["request_id"] is not None) == (outcome == "created_request")


@pytest.mark.parametrize(
    "name", ["recording/01_recording_started", "recording/02_recording_completed", "quirks/record_added"]
)
async def test_other_events_are_accepted_and_ignored(tel: Harness, name: str) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await deliver(tel.client, fixture(name))
    assert answer.status_code == 200
    assert answer.json() == {"status": "ignored", "outcome": None}
    assert await calls(admin) == []


def _call(entry: str, caller: str, line: str = KNOWN_LINE, ts: int = 1752566571) -> dict[str, Any]:
    return {
        "entry_id": entry,
        "call_id": entry + "-leg",
        "timestamp": ts,
        "seq": 1,
        "call_state": "Appeared",
        "location": "ivr",
        "from": {"number": caller},
        "to": {"number": line, "line_number": line},
    }


async def test_second_call_within_window_attaches(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    assert (await post_payload(tel.client, "call", _call("entry-1", "79035550001"))).json()[
        "outcome"
    ] == "created_request"
    answer = await post_payload(tel.client, "call", _call("entry-2", "8 903 555-00-01"))
    assert answer.json() == {"status": "accepted", "outcome": "attached"}
    [lead] = await requests_of(admin, "79035550001")
    found = {c["entry_id"]: c for c in await calls(admin)}
    assert found["entry-2"]["request_id"] == lead["id"] == found["entry-1"]["request_id"]
    events = (await admin.get(f"/api/v1/requests/{lead['id']}/events")).json()["items"]
    assert [e["kind"] for e in events] == ["created", "call"]
    assert events[1]["data"]["entry_id"] == "entry-2"


async def test_second_call_after_window_creates_a_repeat(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    patch = await admin.patch("/api/v1/settings", json={"dedupe_window_minutes": 1})
    assert patch.status_code == 200, patch.text
    await post_payload(tel.client, "call", _call("entry-1", "79035550002"))
    [lead] = await requests_of(admin, "79035550002")
    async with tel.database.session() as session:  # the first lead is two minutes old
        await session.execute(update(Request).where(Request.id == lead["id"]).values(created_at=_minutes_ago(2)))
        await session.commit()
    answer = await post_payload(tel.client, "call", _call("entry-2", "79035550002"))
    assert answer.json()["outcome"] == "created_request"
    leads = await requests_of(admin, "79035550002")
    assert sorted(item["request_type"]["code"] for item in leads) == ["first_time", "repeat"]


def _minutes_ago(minutes: int) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)


async def test_call_about_an_active_job_attaches_at_any_age(tel: Harness) -> None:
    admin, city_id, _ = await setup_line(tel)
    created = await admin.post(
        "/api/v1/requests",
        json={
            "city_id": city_id,
            "client_phone": "79035550003",
            "address": "Lenina 1",
            "visit_at": "2030-01-01T10:00:00Z",
        },
    )
    assert created.status_code == 201
    lead = created.json()
    moved = await admin.post(
        f"/api/v1/requests/{lead['id']}/transitions", json={"to": "awaiting_dispatch", "version": lead["version"]}
    )
    assert moved.status_code == 200, moved.text
    async with tel.database.session() as session:
        await session.execute(
            update(Request).where(Request.id == lead["id"]).values(created_at=_minutes_ago(60 * 24 * 40))
        )
        await session.commit()
    answer = await post_payload(tel.client, "call", _call("entry-job", "79035550003"))
    assert answer.json()["outcome"] == "attached"
    assert len(await requests_of(admin, "79035550003")) == 1


async def test_closed_or_other_city_requests_do_not_attract_calls(tel: Harness) -> None:
    admin, city_id, _ = await setup_line(tel)
    other = await tel.city()
    for city in (other.id, city_id):
        created = await admin.post("/api/v1/requests", json={"city_id": city, "client_phone": "79035550004"})
        assert created.status_code == 201
    lead = next(r for r in await requests_of(admin, "79035550004") if r["city_id"] == city_id)
    refused = await admin.post(
        f"/api/v1/requests/{lead['id']}/transitions", json={"to": "refused", "version": lead["version"], "reason": "no"}
    )
    assert refused.status_code == 200, refused.text
    answer = await post_payload(tel.client, "call", _call("entry-x", "79035550004"))
    assert answer.json()["outcome"] == "created_request"
    leads = await requests_of(admin, "79035550004")
    assert len(leads) == 3
    assert {r["request_type"]["code"] for r in leads if r["source"] == "telephony"} == {"repeat"}


async def test_ten_concurrent_deliveries_of_one_entry_make_one_request_and_one_call(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    item = fixture("inbound_answered/01_call_ivr_appeared")
    clients = [tel.new_client(ip=f"10.0.0.{i}") for i in range(10)]
    answers = await asyncio.gather(*(deliver(c, item) for c in clients))
    for client in clients:
        await client.aclose()
    assert [a.status_code for a in answers] == [200] * 10, [a.text for a in answers]
    # The first delivery created the lead; the others waited for it and report the call's committed outcome.
    assert {a.json()["outcome"] for a in answers} == {"created_request"}
    [call] = await calls(admin)
    assert len(await requests_of(admin, "79031112233")) == 1
    answered = await admin.get(f"/api/v1/requests/{call['request_id']}/events")
    assert len(answered.json()["items"]) == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("not=form=data&&", "application/x-www-form-urlencoded", 422),
        ('{"json": "{}"}', "application/json", 415),
        ("vpbx_api_key=k&sign=s", "application/x-www-form-urlencoded", 422),
        ("\xff\xfe", "application/x-www-form-urlencoded", 422),
    ],
)
async def test_malformed_bodies(tel: Harness, body: str, content_type: str, status: int) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await tel.client.post(
        "/api/v1/telephony/mango/events/call", content=body.encode("latin-1"), headers={"Content-Type": content_type}
    )
    problem(answer, status)
    assert await calls(admin) == []


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ("not json", 422),
        ("[1, 2]", 422),
        ('"text"', 422),
        ({**_call("e-1", "79035550005"), "from": "79035550005"}, 422),
        ({**_call("e-2", "79035550005"), "timestamp": "yesterday"}, 422),
        ({**_call("e-3", "79035550005"), "timestamp": 99999999999999}, 422),
        ({k: v for k, v in _call("e-4", "79035550005").items() if k != "entry_id"}, 422),
    ],
)
async def test_malformed_payloads_change_nothing(tel: Harness, payload: Any, status: int) -> None:
    admin, _, _ = await setup_line(tel)
    problem(await post_payload(tel.client, "call", payload), status)
    assert await calls(admin) == []
    assert await requests_of(admin, "79035550005") == []


async def test_unknown_event_is_accepted_and_ignored(tel: Harness) -> None:
    answer = await post_payload(tel.client, "dtmf", {"entry_id": "x", "dtmf": "1"})
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"
    answer = await post_payload(tel.client, "something/new/here", {"whatever": True})
    assert answer.status_code == 200 and answer.json()["status"] == "ignored"


async def test_huge_body_is_refused_before_reading(tel: Harness) -> None:
    body = "json=" + "a" * (10 * 1024 * 1024)
    problem(await tel.client.post("/api/v1/telephony/mango/events/call", content=body, headers=FORM), 413)


async def test_not_configured_and_unknown_provider(h: Harness) -> None:
    item = fixture("inbound_answered/01_call_ivr_appeared")
    problem(await deliver(h.client, item), 404, "telephony-not-configured")
    problem(await h.client.post("/api/v1/telephony/asterisk/events/call", content="a=b", headers=FORM), 404)


async def test_calls_list_scope_and_roles(tel: Harness) -> None:
    admin, city_id, campaign_id = await setup_line(tel)
    for item in scenario("inbound_answered"):
        await deliver(tel.client, item)
    director = await tel.as_user(await tel.user("director", cities=[city_id]))
    stranger = await tel.as_user(await tel.user("director", cities=[(await tel.city()).id]))
    operator = await tel.as_user(await tel.user("operator"))
    assert len(await calls(director)) == 1
    assert len(await calls(operator)) == 1
    assert await calls(stranger) == []
    assert len(await calls(admin, campaign_id=campaign_id, date_from="2025-07-15", date_to="2025-07-15")) == 1
    assert await calls(admin, date_from="2025-07-16") == []
    for role in ("marketer", "master"):
        problem(await (await tel.signed_in(role)).get("/api/v1/calls"), 403)
    problem(await tel.client.get("/api/v1/calls"), 401)
    problem(await admin.get("/api/v1/calls", params={"outcome": "bogus"}), 422)


async def test_concurrent_calls_of_one_client_make_one_request(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    clients = [tel.new_client(ip=f"10.0.1.{i}") for i in range(8)]
    answers = await asyncio.gather(
        *(post_payload(c, "call", _call(f"entry-same-{i}", "79035550077")) for i, c in enumerate(clients))
    )
    for client in clients:
        await client.aclose()
    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == ["attached"] * 7 + ["created_request"]
    assert len(await requests_of(admin, "79035550077")) == 1
    listed = await admin.get("/api/v1/calls", params={"per_page": 3})
    assert listed.json()["total"] == 8 and len(listed.json()["items"]) == 3


async def test_absurdly_deep_json_is_malformed_not_a_crash(tel: Harness) -> None:
    problem(await post_payload(tel.client, "call", "[" * 5000 + "]" * 5000), 422, "malformed-webhook")
