"""The work list ``/requests``: every filter in the query string applied on the server, sort and pages, the CSV link
with exactly the page's filters, the live fragment, who may read it and what a marketer never sees."""

from __future__ import annotations

import html as htmllib
import re
from urllib.parse import parse_qsl, urlsplit

from tests.conftest import Harness
from tests.console.card_support import browser
from tests.requests.helpers import create, make_campaign, move, reach, team


def ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-row tabindex="0" data-id="(\d+)">', html)]


def csv_link(html: str) -> str:
    found = re.search(r'<a class="button" href="([^"]+)" data-csv', html)
    assert found
    return htmllib.unescape(found.group(1))


async def test_filters_in_the_url_are_applied_on_the_server(h: Harness) -> None:
    t = await team(h)
    other = await team(h)
    campaign = await make_campaign(t.admin, t.city.id)
    fresh = await create(t.director, t.city.id, client_name="Иван Грозный", campaign_id=campaign["id"])
    called = await create(t.director, t.city.id, client_name="Пётр Первый")
    await move(t.director, called["id"], "callback")
    busy = await reach(t, "in_progress")
    elsewhere = await create(other.director, other.city.id)
    admin = await browser(h, await h.user("admin"))

    every = await admin.get("/requests")
    assert set(ids(every.text)) == {fresh["id"], called["id"], busy["id"], elsewhere["id"]}
    assert ids(every.text) == sorted(ids(every.text), reverse=True)  # newest first
    by_status = await admin.get("/requests", params=[("status", "new"), ("status", "callback")])
    assert set(ids(by_status.text)) == {fresh["id"], called["id"], elsewhere["id"]}
    assert set(ids((await admin.get("/requests", params={"city_id": t.city.id})).text)) == {
        fresh["id"],
        called["id"],
        busy["id"],
    }
    assert ids((await admin.get("/requests", params={"master_id": t.master_id})).text) == [busy["id"]]
    assert ids((await admin.get("/requests", params={"campaign_id": campaign["id"]})).text) == [fresh["id"]]
    assert ids((await admin.get("/requests", params={"q": "грозный"})).text) == [fresh["id"]]
    assert ids((await admin.get("/requests", params={"queue": "work", "city_id": t.city.id})).text) == [busy["id"]]
    ascending = await admin.get("/requests", params={"sort": "created_at", "city_id": t.city.id})
    assert ids(ascending.text) == sorted(ids(ascending.text))
    # pages: one row a page, the second page is the second newest
    second = await admin.get("/requests", params={"per_page": 1, "page": 2, "city_id": t.city.id})
    assert ids(second.text) == [called["id"]]
    assert "Page 2 of 3" in second.text
    assert 'rel="next" href="/requests?city_id=' in second.text
    # the form shows the filters it applied, so the view can be bookmarked and changed
    view = await admin.get("/requests", params=[("status", "callback"), ("q", "Пётр")])
    assert re.search(r'<option value="callback" selected>', view.text)
    assert 'value="Пётр"' in view.text


async def test_csv_link_carries_exactly_the_filters(h: Harness) -> None:
    t = await team(h)
    admin = await browser(h, await h.user("admin"))
    query = [
        ("status", "new"),
        ("status", "done"),
        ("city_id", str(t.city.id)),
        ("q", "Иван"),
        ("date_from", "2026-01-01"),
        ("date_to", "2026-12-31"),
        ("date_field", "visit_at"),
        ("sort", "visit_at"),
        ("page", "2"),
        ("per_page", "10"),
    ]
    page = await admin.get("/requests", params=query)
    link = urlsplit(csv_link(page.text))
    assert link.path == "/api/v1/requests"
    sent = parse_qsl(link.query)
    # ... and the page's language (this client's is English), for the file's headers and labels
    assert sent == [*(p for p in query if p[0] not in ("page", "per_page")), ("format", "csv"), ("lang", "en")]


async def test_invalid_filter_is_a_clear_error_page(h: Harness) -> None:
    admin = await browser(h, await h.user("admin"))
    answer = await admin.get("/requests", params={"status": "nonsense"})
    assert answer.status_code == 422
    assert "<html" in answer.text


async def test_marketer_reads_without_client_data_and_master_is_refused(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress", client_name="Секретный Клиент", address="ул. Скрытая, 9")
    marketer = await browser(h, await h.user("marketer", cities=[t.city.id]))
    page = await marketer.get("/requests")
    assert page.status_code == 200
    assert ids(page.text) == [req["id"]]
    for secret in (req["client_phone"], "Секретный Клиент", "ул. Скрытая"):
        assert secret not in page.text
    assert "Client" not in re.findall(r"<th[^>]*>([^<]*)</th>", page.text)
    master = await browser(h, t.master_user)
    assert (await master.get("/requests")).status_code == 403


async def test_live_fragment_keeps_the_view_and_both_languages(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "accepted")
    for lang, label, found in (("en", "Accepted", "Found: 1"), ("ru", "Принял", "Найдено: 1")):
        director = await browser(h, await h.user("director", cities=[t.city.id]), lang=lang)
        page = await director.get("/requests", params={"status": "accepted", "page": 1})
        assert 'hx-trigger="sse:request.changed delay:500ms"' in page.text
        assert 'hx-ext="sse" sse-connect="/api/v1/stream"' in page.text
        assert 'hx-get="/requests?status=accepted"' in page.text  # the table re-fetches its own view
        fragment = await director.get(
            "/requests", params={"status": "accepted"}, headers={"HX-Request": "true", "HX-Target": "results"}
        )
        assert fragment.text.lstrip().startswith('<section id="results"')
        assert ids(fragment.text) == [req["id"]]
        assert label in fragment.text and found in fragment.text
        assert f'<a href="/requests/{req["id"]}" data-open>' in fragment.text
