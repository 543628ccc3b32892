"""Marketers read campaigns and counts, not clients: every route that answers requests hides the client's phone,
name and address and the free texts (problem, notes) from them, and a phone in their search is a 403."""

from __future__ import annotations

from typing import Any

import pytest

from leadflow.requests.schemas import MARKETER_HIDDEN
from tests.conftest import Harness, problem
from tests.requests.helpers import REQUESTS, Team, create, team

PHONE = "79035551212"
PERSONAL = {
    "client_phone": PHONE,
    "client_name": "Иван Петров",
    "address": "ул. Ленина, 1",
    "problem": "Течёт кран у Петрова",
    "call_center_notes": "Звонить после 18:00 жене",
}


@pytest.fixture
async def t(h: Harness) -> Team:
    return await team(h)


async def _made(t: Team) -> dict[str, Any]:
    made = await create(t.director, t.city.id, **PERSONAL)
    edited = await t.director.patch(
        f"{REQUESTS}/{made['id']}",
        json={"master_notes": "Ключ у соседа", "client_name": "Иван П.", "version": made["version"]},
    )
    assert edited.status_code == 200, edited.text
    return edited.json()  # type: ignore[no-any-return]


def assert_hidden(item: dict[str, Any]) -> None:
    assert {k: item[k] for k in MARKETER_HIDDEN} == dict.fromkeys(MARKETER_HIDDEN)
    assert item["campaign_id"] is None and item["city_id"] and item["status"] == "new"  # the rest is there


async def test_the_hidden_set_is_the_clients_data() -> None:
    assert {"client_phone", "client_name", "address", "problem", "master_notes", "call_center_notes"} == MARKETER_HIDDEN


async def test_list_hides_the_client_from_marketers_only(t: Team) -> None:
    made = await _made(t)
    listed = await t.marketer.get(REQUESTS)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["id"] == made["id"]
    assert_hidden(item)
    [seen] = (await t.director.get(REQUESTS)).json()["items"]
    assert seen["client_phone"] == PHONE and seen["master_notes"] == "Ключ у соседа"


async def test_detail_hides_the_client_from_marketers(t: Team) -> None:
    made = await _made(t)
    answer = await t.marketer.get(f"{REQUESTS}/{made['id']}")
    assert answer.status_code == 200, answer.text
    assert_hidden(answer.json())
    assert (await t.operator.get(f"{REQUESTS}/{made['id']}")).json()["client_name"] == "Иван П."


@pytest.mark.parametrize("q", [PHONE, "+7 903 555", "8 903 555-12-12"])
async def test_a_phone_in_a_marketers_search_is_403(t: Team, q: str) -> None:
    await _made(t)
    problem(await t.marketer.get(REQUESTS, params={"q": q}), 403)
    assert (await t.director.get(REQUESTS, params={"q": q})).json()["total"] == 1


async def test_a_marketer_searches_by_id_only(t: Team) -> None:
    made = await _made(t)
    by_id = (await t.marketer.get(REQUESTS, params={"q": str(made["id"])})).json()
    assert [i["id"] for i in by_id["items"]] == [made["id"]]
    assert_hidden(by_id["items"][0])
    for fragment in ("Иван", "Ленина"):  # a match would tell the marketer the client's name or address
        assert (await t.marketer.get(REQUESTS, params={"q": fragment})).json()["total"] == 0
        assert (await t.director.get(REQUESTS, params={"q": fragment})).json()["total"] == 1


async def test_history_hides_the_client_from_marketers(t: Team) -> None:
    made = await _made(t)
    moved = await t.director.post(
        f"{REQUESTS}/{made['id']}/transitions",
        json={"to": "refused", "reason": "Клиент Петров передумал", "version": made["version"]},
    )
    assert moved.status_code == 200, moved.text
    history = await t.marketer.get(f"{REQUESTS}/{made['id']}/events")
    assert history.status_code == 200, history.text
    text = history.text
    for secret in ("Петров", "Иван", "Ключ у соседа", PHONE):
        assert secret not in text
    kinds = [e["kind"] for e in history.json()["items"]]
    assert kinds == [e["kind"] for e in (await t.director.get(f"{REQUESTS}/{made['id']}/events")).json()["items"]]
    assert "Петров" in (await t.director.get(f"{REQUESTS}/{made['id']}/events")).text
