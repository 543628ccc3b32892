"""The master's phone view ``/my`` without a browser: whose jobs appear, the next-step buttons per status, moves
(CSRF, field errors with the typed text kept), the completion refused without a BSO photo, the money preview from the
requests domain, and both languages."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from leadflow.accounts.models import User
from leadflow.platform.db import utcnow
from leadflow.requests import money
from tests.conftest import PASSWORD, Harness
from tests.files.helpers import png, uploaded
from tests.requests.helpers import Team, move, reach, team, url

Json = dict[str, Any]


def soon(hours: float = 1) -> str:
    """A visit time on today's date in Moscow (the tabs are days of the city's zone; the harness cities are in
    Moscow): ``hours`` from now, or as long before now when that would be tomorrow already."""
    now = utcnow().astimezone(ZoneInfo("Europe/Moscow"))
    later = now + dt.timedelta(hours=hours)
    return (later if later.date() == now.date() else now - dt.timedelta(hours=hours)).isoformat()


async def page_client(h: Harness, user: User, lang: str | None = None) -> httpx.AsyncClient:
    """A browser-like client: signed in through the sign-in form, sending the CSRF header as console.js does."""
    client = h.new_client(headers={"Accept-Language": lang} if lang else {})
    response = await client.post("/login", data={"login": user.login, "password": PASSWORD, "next": "/my"})
    assert response.status_code == 303 and response.headers["location"] == "/my", response.text
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client


async def job_at(t: Team, status: str, **fields: Any) -> Json:
    """A job of the team's master in ``status`` (en_route and deferred reached through the master's own moves)."""
    fields.setdefault("visit_at", soon())
    if status in ("en_route", "deferred"):
        req = await reach(t, "accepted" if status == "en_route" else "in_progress", **fields)
        extra = {"note": "parts ordered"} if status == "deferred" else {}
        return await move(t.master, req["id"], status, **extra)
    return await reach(t, status, **fields)


def job_ids(html: str) -> set[int]:
    return {int(n) for n in re.findall(r'id="job-(\d+)"', html)}


def buttons(html: str, rid: int) -> list[tuple[str, str]]:
    """The job's moves as drawn, in order: (kind, target), kind primary / secondary (one tap), complete (the
    completion page), confirm (a second tap), reason or note (a text to give)."""
    start = html.index(f'id="job-{rid}"')
    end = html.find('<li class="job"', start + 1)
    card = html[start : end if end > 0 else len(html)]
    return [(kind, to) for to, kind in re.findall(r'data-action="(\w+)" data-kind="(\w+)"', card)]


async def test_a_master_sees_only_their_own_jobs_and_others_get_the_404_page(h: Harness) -> None:
    t = await team(h)
    other = await h.user("master", master_city=t.city.id)
    mine = await job_at(t, "accepted")
    theirs = await reach(t, "awaiting_dispatch", visit_at=soon())
    theirs = await move(t.director, theirs["id"], "awaiting_acceptance", master_id=other.id)
    client = await page_client(h, t.master_user)
    page = await client.get("/my")
    assert page.status_code == 200, page.text
    assert job_ids(page.text) == {mine["id"]}
    assert 'sse-connect="/api/v1/stream"' in page.text and 'hx-trigger="sse:request.changed"' in page.text
    fragment = await client.get("/my/jobs", params={"tab": "today"}, headers={"HX-Request": "true"})
    assert job_ids(fragment.text) == {mine["id"]} and "<html" not in fragment.text

    # Another master's job is the same 404 page as a job that does not exist, and no move reaches it.
    missing = await client.get("/my/999999/complete")
    foreign = await client.get(f"/my/{theirs['id']}/complete")
    assert missing.status_code == foreign.status_code == 404
    assert foreign.text == missing.text
    refused = await client.post(
        f"/my/{theirs['id']}/move",
        data={"to": "accepted", "version": str(theirs["version"])},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 200 and job_ids(refused.text) == {mine["id"]}
    assert (await t.director.get(url(theirs["id"]))).json()["status"] == "awaiting_acceptance"
    preview = await client.post(f"/my/{theirs['id']}/preview", data={"result": "1", "expenses": "0"})
    assert preview.status_code == 404


async def test_other_roles_get_the_403_page(h: Harness) -> None:
    t = await team(h)
    director = await h.user("director", cities=[t.city.id])
    client = await page_client(h, director)
    page = await client.get("/my")
    assert page.status_code == 403 and "<html" in page.text
    signed_out = await h.new_client().get("/my")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=/my"


async def test_the_next_step_per_status(h: Harness) -> None:
    t = await team(h)
    jobs = {
        status: await job_at(t, status)
        for status in ("awaiting_acceptance", "accepted", "en_route", "in_progress", "deferred")
    }
    client = await page_client(h, t.master_user, lang="en")
    html = (await client.get("/my")).text
    assert job_ids(html) == {j["id"] for j in jobs.values()}
    assert buttons(html, jobs["awaiting_acceptance"]["id"]) == [
        ("primary", "accepted"),
        ("confirm", "awaiting_dispatch"),
    ]
    assert buttons(html, jobs["accepted"]["id"]) == [
        ("primary", "en_route"),
        ("secondary", "in_progress"),
        ("reason", "refused"),
    ]
    assert buttons(html, jobs["en_route"]["id"]) == [("primary", "in_progress"), ("reason", "refused")]
    assert buttons(html, jobs["in_progress"]["id"]) == [
        ("complete", "done"),
        ("note", "deferred"),
        ("reason", "refused"),
    ]
    assert buttons(html, jobs["deferred"]["id"]) == [
        ("primary", "in_progress"),
        ("complete", "done"),
        ("reason", "refused"),
    ]
    assert ">Accept</button>" in html and ">On my way</button>" in html and "Yes, decline" in html
    # The address opens the maps app (geo:) with a web fallback, the phone dials.
    assert 'href="geo:0,0?q=%D1%83%D0%BB.+%D0%9B%D0%B5%D0%BD%D0%B8%D0%BD%D0%B0%2C+1"' in html
    assert "https://yandex.ru/maps/?text=" in html
    phone = jobs["accepted"]["client_phone"]
    assert f'href="tel:+{phone}"' in html


async def test_moves_from_the_list_with_csrf_and_field_errors(h: Harness) -> None:
    t = await team(h)
    job = await job_at(t, "awaiting_acceptance")
    client = await page_client(h, t.master_user)
    form = {"to": "accepted", "version": str(job["version"]), "tab": "today"}
    fragment = {"HX-Request": "true"}
    no_csrf = await client.post(f"/my/{job['id']}/move", data=form, headers={**fragment, "X-CSRF-Token": ""})
    assert no_csrf.status_code == 403
    assert (await t.director.get(url(job["id"]))).json()["status"] == "awaiting_acceptance"

    accepted = await client.post(f"/my/{job['id']}/move", data=form, headers=fragment)
    assert accepted.status_code == 200, accepted.text
    assert (await t.director.get(url(job["id"]))).json()["status"] == "accepted"
    assert buttons(accepted.text, job["id"])[0] == ("primary", "en_route")
    # The same form again (the version read before): the fresh list and a notice, nothing changed.
    stale = await client.post(f"/my/{job['id']}/move", data=form, headers=fragment)
    assert stale.status_code == 409 and "Заказ успели изменить" in stale.text

    # Refusing needs a reason: the error is beside the field and the typed text stays.
    version = (await t.director.get(url(job["id"]))).json()["version"]
    too_long = "клиент передумал " * 70
    refuse = {"to": "refused", "version": str(version), "reason": too_long, "tab": "today"}
    refused = await client.post(f"/my/{job['id']}/move", data=refuse, headers=fragment)
    assert refused.status_code == 422, refused.text
    field = f"job-{job['id']}-refused-reason"
    assert (
        f'id="{field}" name="reason" maxlength="1000" aria-invalid="true" aria-describedby="{field}-error"'
        in refused.text
    )
    assert too_long.strip() in refused.text
    assert f'<p class="field-error" id="{field}-error">' in refused.text
    assert (await t.director.get(url(job["id"]))).json()["status"] == "accepted"
    refuse["reason"] = ""
    empty = await client.post(f"/my/{job['id']}/move", data=refuse, headers=fragment)
    assert empty.status_code == 422 and "Укажите причину." in empty.text
    refuse["reason"] = "Клиент передумал"
    done = await client.post(f"/my/{job['id']}/move", data=refuse, headers=fragment)
    assert done.status_code == 200 and job["id"] not in job_ids(done.text)
    assert (await t.director.get(url(job["id"]))).json()["status"] == "refused"


async def test_completing_needs_a_bso_photo_and_stores_the_previewed_money(h: Harness) -> None:
    t = await team(h)
    job = await job_at(t, "in_progress")
    client = await page_client(h, t.master_user)
    page = await client.get(f"/my/{job['id']}/complete")
    assert page.status_code == 200
    assert re.search(r'id="complete-submit" class="primary big" disabled', page.text)
    assert 'capture="environment"' in page.text and 'data-upload="bso"' in page.text

    body = {"version": str(job["version"]), "result": "5000", "expenses": "1000.01"}
    fragment = {"HX-Request": "true"}
    refused = await client.post(f"/my/{job['id']}/complete", data=body, headers=fragment)
    assert refused.status_code == 422, refused.text
    assert "Приложите фото БСО" in refused.text
    assert 'value="5000"' in refused.text and 'value="1000.01"' in refused.text  # the typed values stay
    assert (await t.director.get(url(job["id"]))).json()["status"] == "in_progress"
    # The move's own route refuses it the same way: the BSO rule is not only on the button.
    sneak = await client.post(f"/my/{job['id']}/move", data={"to": "done", **body}, headers=fragment)
    assert sneak.status_code == 422
    assert (await t.director.get(url(job["id"]))).json()["status"] == "in_progress"

    # A receipt is not enough; the BSO photo turns the button on.
    await uploaded(t.master, url(job["id"], "/files"), png(seed=3), "receipt.png", kind="expense_receipt")
    still = await client.get(f"/my/{job['id']}/attachments", headers=fragment)
    assert re.search(r'id="complete-submit" class="primary big" disabled', still.text)
    await uploaded(t.master, url(job["id"], "/files"), png(seed=4), "bso.png", kind="bso")
    ready = await client.get(f"/my/{job['id']}/attachments", headers=fragment)
    assert 'hx-swap-oob="true"' in ready.text and "disabled" not in ready.text.split('id="complete-submit"')[1][:60]

    # Money errors are beside the fields, with what was typed.
    wrong = await client.post(f"/my/{job['id']}/complete", data={**body, "expenses": "6000"}, headers=fragment)
    assert wrong.status_code == 422
    assert 'id="f-expenses-error"' in wrong.text and "Расход не может быть больше итога." in wrong.text
    assert 'value="6000"' in wrong.text

    completed = await client.post(f"/my/{job['id']}/complete", data=body, headers=fragment)
    assert completed.status_code == 204 and completed.headers["HX-Redirect"] == "/my?tab=done"
    stored = (await t.director.get(url(job["id"]))).json()
    expected = money.compute(Decimal("5000"), Decimal("1000.01"), Decimal("0.50"))
    assert (stored["status"], Decimal(stored["master_handover"])) == ("done", expected.master_handover)
    done_tab = await client.get("/my", params={"tab": "done"})
    assert job["id"] in job_ids(done_tab.text) and "2\u00a0000,00\u00a0₽" in done_tab.text


async def test_the_money_preview_is_the_domains_in_both_languages(h: Harness) -> None:
    t = await team(h)
    share = await t.admin.patch(f"/api/v1/masters/{t.master_id}", json={"company_share": "0.30"})
    assert share.status_code == 200, share.text
    job = await job_at(t, "in_progress")
    ru = await page_client(h, t.master_user)
    answer = await ru.post(f"/my/{job['id']}/preview", data={"result": "1234.56", "expenses": "0.01"})
    assert answer.status_code == 200
    # net 1234.55; handover round_half_up(1234.55 × 0.30) = 370.37 (370.365); the master keeps 864.18
    assert "<dd data-net>1\u00a0234,55\u00a0₽</dd>" in answer.text
    assert "<dd data-handover>370,37\u00a0₽</dd>" in answer.text
    assert "<dd data-earned>864,18\u00a0₽</dd>" in answer.text
    # typed as a Russian phone keyboard types them: a comma, and a space between thousands
    comma = await ru.post(f"/my/{job['id']}/preview", data={"result": "1 234,56", "expenses": "0,01"})
    assert "<dd data-handover>370,37\u00a0₽</dd>" in comma.text
    en = await page_client(h, t.master_user, lang="en")
    english = await en.post(f"/my/{job['id']}/preview", data={"result": "1234.56", "expenses": "0.01"})
    assert "<dd data-handover>370.37\u00a0₽</dd>" in english.text
    bad = await en.post(f"/my/{job['id']}/preview", data={"result": "10", "expenses": "11"})
    assert "Expenses cannot be greater than the result." in bad.text
    partial = await en.post(f"/my/{job['id']}/preview", data={"result": "10", "expenses": ""})
    assert "Enter the amounts" in partial.text
    assert (await t.director.get(url(job["id"]))).json()["status"] == "in_progress"


async def test_both_languages_and_the_tabs(h: Harness) -> None:
    t = await team(h)
    today = await job_at(t, "awaiting_acceptance")
    later = await job_at(t, "accepted", visit_at=(utcnow() + dt.timedelta(days=3)).isoformat())
    ru = await page_client(h, t.master_user)
    page = (await ru.get("/my")).text
    assert '<html lang="ru">' in page and "Сегодня" in page and ">Принять</button>" in page
    assert "Ожидает принятия" in page
    assert job_ids(page) == {today["id"]}
    upcoming = (await ru.get("/my", params={"tab": "upcoming"})).text
    assert job_ids(upcoming) == {later["id"]} and ">Выехал</button>" in upcoming
    en = await page_client(h, t.master_user, lang="en")
    english = (await en.get("/my", params={"tab": "done"})).text
    assert '<html lang="en">' in english and "Nothing done in the last 14 days." in english
    assert job_ids(english) == set()
