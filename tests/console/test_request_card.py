"""The request card ``/requests/{id}`` over HTTP as a browser uses it: fields editable or locked by the domain's
rights, the move buttons of the workflow table, saving with the version read (a stale save shows both values), the
moves' forms, the money preview, the history, files and scope."""

from __future__ import annotations

import html as htmllib
import re
from decimal import Decimal

import pytest

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.requests import handover, queries
from leadflow.requests.workflow import Status, moves_for
from tests.conftest import Harness
from tests.console.card_support import browser, csrf, field_tag, form_of, is_disabled, move_buttons
from tests.requests.helpers import API, Team, create, move, reach, team, url

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


async def user_of(h: Harness, t: Team, role: str):  # type: ignore[no-untyped-def]
    if role == "master":
        return t.master_user
    return await h.user(role, cities=[t.city.id] if role != "admin" else None)


def text(html: str) -> str:
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", html))


CHECKED = ("client_name", "address", "city_id", "visit_at", "problem", "call_center_notes", "master_notes", "result")
TEXTS = {"client_name", "address", "visit_at", "problem", "call_center_notes"}


@pytest.mark.parametrize(
    ("role", "status", "enabled"),
    [
        ("director", "in_progress", TEXTS | {"master_notes"}),
        ("director", "done", TEXTS | {"master_notes", "result"}),
        ("operator", "new", TEXTS | {"city_id"}),
        ("operator", "accepted", set()),
        ("master", "in_progress", {"master_notes"}),
    ],
)
async def test_fields_editable_or_locked_with_reason(h: Harness, role: str, status: str, enabled: set[str]) -> None:
    t = await team(h)
    rid = (await reach(t, status))["id"]
    client = await browser(h, await user_of(h, t, role))
    page = await client.get(f"/requests/{rid}")
    assert page.status_code == 200, page.text
    assert {f for f in CHECKED if not is_disabled(page.text, f)} == enabled
    if role == "director" and status == "in_progress":
        # locked, not hidden: shown disabled with the domain's reason
        assert "Money is reported with the move to done" in page.text
        assert "The city cannot change while a master is assigned." in page.text
    if role == "master":
        assert "Your role may not change this field." in page.text
    if role == "operator" and status == "accepted":
        assert "Operators edit a request only before a master accepts it." in page.text


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("director", "new"),
        ("director", "in_progress"),
        ("director", "done"),
        ("operator", "new"),
        ("operator", "accepted"),
        ("master", "awaiting_acceptance"),
        ("master", "in_progress"),
        ("admin", "awaiting_dispatch"),
        ("marketer", "new"),
    ],
)
async def test_move_buttons_are_the_tables_moves_for_the_role(h: Harness, role: str, status: str) -> None:
    t = await team(h)
    rid = (await reach(t, status))["id"]
    client = await browser(h, await user_of(h, t, role))
    page = await client.get(f"/requests/{rid}")
    was_assigned = status not in ("new", "awaiting_dispatch")
    expected = [m.target.value for m in moves_for(Status(status), was_assigned, Role(role))]
    assert move_buttons(page.text) == expected
    if role == "operator" and status == "accepted":
        assert expected == []


async def test_marketer_sees_no_client_data_and_cannot_save(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress", client_name="Пётр Секретов", address="ул. Тайная, 7", problem="Течёт кран")
    client = await browser(h, await h.user("marketer", cities=[t.city.id]))
    page = await client.get(f"/requests/{req['id']}")
    assert page.status_code == 200
    for secret in (req["client_phone"], "Пётр Секретов", "ул. Тайная", "Течёт кран"):
        assert secret not in text(page.text)
    assert "Client data is hidden for your role." in page.text
    assert 'type="submit" class="primary">Save' not in page.text
    assert move_buttons(page.text) == []


async def test_another_citys_card_and_a_missing_one_are_the_same_404(h: Harness) -> None:
    t = await team(h)
    other = await team(h)
    theirs = (await reach(other, "new"))["id"]
    client = await browser(h, await h.user("director", cities=[t.city.id]))
    foreign = await client.get(f"/requests/{theirs}")
    missing = await client.get("/requests/999999")
    assert foreign.status_code == missing.status_code == 404
    assert text(foreign.text) == text(missing.text)
    for path in (
        f"/requests/{theirs}/history",
        f"/requests/{theirs}/move/awaiting_dispatch",
        f"/requests/{theirs}/money",
    ):
        assert (await client.get(path, headers={"HX-Request": "true"})).status_code == 404
    # another master's job is the same 404 for a master
    job = (await reach(other, "in_progress"))["id"]
    master = await browser(h, t.master_user)
    assert (await master.get(f"/requests/{job}")).status_code == 404


async def test_save_changes_only_what_was_typed_and_needs_csrf(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress", client_name="Анна")
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    page = await director.get(f"/requests/{req['id']}")
    form = form_of(page.text)
    assert form["visit_at"] == "2026-11-25T10:00"  # shown in the city's zone (Moscow)
    form["client_name"] = "Анна Петровна"
    form["visit_at"] = "2026-11-25T11:30"
    refused = await director.post(f"/requests/{req['id']}", data=form, headers={"HX-Request": "true"})
    assert refused.status_code == 403
    saved = await director.post(f"/requests/{req['id']}", data=form, headers=csrf(director))
    assert saved.status_code == 200, saved.text
    assert "Saved." in saved.text
    body = (await t.director.get(url(req["id"]))).json()
    assert (body["client_name"], body["visit_at"]) == ("Анна Петровна", "2026-11-25T08:30:00Z")
    assert body["version"] == req["version"] + 1
    assert f'name="version" value="{body["version"]}"' in saved.text
    history = [e for e in (await t.director.get(url(req["id"], "/events"))).json()["items"] if e["kind"] == "updated"]
    assert sorted(history[-1]["data"]["changes"]) == ["client_name", "visit_at"]  # the untouched ones were not sent
    lines = text((await director.get(f"/requests/{req['id']}/history")).text)
    assert "Visit time: 25/11/2026, 10:00 → 25/11/2026, 11:30" in lines


async def test_field_error_next_to_the_field_with_the_typed_values_kept(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "new")
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    form = form_of((await director.get(f"/requests/{req['id']}")).text)
    form |= {"client_phone": "12", "client_name": "Новое имя"}
    answer = await director.post(f"/requests/{req['id']}", data=form, headers=csrf(director))
    assert answer.status_code == 422, answer.text
    assert 'aria-invalid="true"' in field_tag(answer.text, "client_phone")
    assert re.search(r'<p class="field-error" id="err-client_phone">[^<]+</p>', answer.text)
    assert 'value="Новое имя"' in field_tag(answer.text, "client_name")
    assert 'value="12"' in field_tag(answer.text, "client_phone")
    assert (await t.director.get(url(req["id"]))).json()["version"] == req["version"]  # nothing saved


async def test_a_stale_save_shows_both_values_and_reapplies(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "new", client_name="Анна", problem="Не греет")
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    form = form_of((await director.get(f"/requests/{req['id']}")).text)
    # someone else saves first
    other = await t.director.patch(
        url(req["id"]), json={"client_name": "Анна (их)", "address": "ул. Новая, 1", "version": req["version"]}
    )
    assert other.status_code == 200
    form |= {"client_name": "Анна (моё)", "problem": "Не греет вода"}
    answer = await director.post(f"/requests/{req['id']}", data=form, headers=csrf(director))
    assert answer.status_code == 409, answer.text
    assert "Changed by someone else." in answer.text
    row = re.search(r'<tr data-conflict-field="client_name">.*?</tr>', answer.text, re.S)
    assert row, answer.text
    assert "Анна (их)" in row.group(0) and "Анна (моё)" in row.group(0)
    kept = form_of(answer.text)
    assert kept["client_name"] == "Анна (моё)" and kept["problem"] == "Не греет вода"  # the edit is not lost
    assert kept["address"] == "ул. Новая, 1"  # their change, which the user did not touch, comes in
    assert kept["version"] == str(other.json()["version"])
    again = await director.post(f"/requests/{req['id']}", data=kept, headers=csrf(director))
    assert again.status_code == 200, again.text
    body = (await t.director.get(url(req["id"]))).json()
    assert (body["client_name"], body["problem"], body["address"]) == ("Анна (моё)", "Не греет вода", "ул. Новая, 1")


async def test_money_preview_equals_the_domain_half_up(h: Harness) -> None:
    t = await team(h)
    assert (await t.admin.patch(f"{API}/masters/{t.master_id}", json={"company_share": "0.35"})).status_code == 200
    rid = (await reach(t, "in_progress"))["id"]
    director = await browser(h, await h.user("director", cities=[t.city.id]), lang="ru")
    answer = await director.get(f"/requests/{rid}/money", params={"result": "100,10", "expenses": "0"})
    assert answer.status_code == 200
    async with h.database.session() as session:
        admin = Principal(1, "a", Role.admin, frozenset(), None, "s")
        row = await queries.get_request(session, admin, rid)
        expected = await handover.preview_money(session, row, Decimal("100.10"), Decimal("0"), Decimal("0.5"))
    assert expected.master_handover == Decimal("35.04")  # 35.035 half-up
    handover_text = re.search(r"data-handover>([^<]+)<", answer.text)
    assert handover_text and handover_text.group(1) == "35,04\u00a0₽"
    assert re.search(r"data-net>([^<]+)<", answer.text).group(1) == "100,10\u00a0₽"  # type: ignore[union-attr]
    wrong = await director.get(f"/requests/{rid}/money", params={"result": "10", "expenses": "20"})
    assert "Расход не может быть больше итога." in wrong.text
    assert "data-handover" not in wrong.text


async def test_move_with_its_form_errors_and_success(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress")
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    form = await director.get(f"/requests/{req['id']}/move/refused", headers={"HX-Request": "true"})
    assert form.status_code == 200 and 'name="reason"' in form.text
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)  # type: ignore[union-attr]
    assert (await director.post(f"/requests/{req['id']}/move/refused", data={"version": version})).status_code == 403
    missing = await director.post(
        f"/requests/{req['id']}/move/refused", data={"version": version, "reason": ""}, headers=csrf(director)
    )
    assert missing.status_code == 422
    assert re.search(r'id="merr-reason">Give a reason\.<', missing.text)
    done = await director.post(
        f"/requests/{req['id']}/move/done",
        data={"version": version, "result": "5 000", "expenses": "1234,57"},  # typed the Russian way
        headers=csrf(director),
    )
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/requests/{req['id']}"
    body = (await t.director.get(url(req["id"]))).json()
    assert (body["status"], body["master_handover"]) == ("done", "1882.72")  # 3765.43 × 0.5 = 1882.715 → .72
    not_offered = await director.get(f"/requests/{req['id']}/move/accepted", headers={"HX-Request": "true"})
    assert not_offered.status_code == 422


async def test_masters_offered_least_loaded_first(h: Harness) -> None:
    t = await team(h)
    busy = t.master_user
    idle = await h.user("master", master_city=t.city.id)
    await reach(t, "in_progress")  # the team's master has one job
    rid = (await reach(t, "awaiting_dispatch"))["id"]
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    form = await director.get(f"/requests/{rid}/move/awaiting_acceptance", headers={"HX-Request": "true"})
    offered = re.findall(r'<option value="(\d+)"', form.text)
    assert offered == [str(idle.id), str(busy.id)]
    assert "jobs that day: 1" in form.text  # both visits fall on the same day


async def test_history_readable_in_both_languages(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "accepted")
    for lang, status_line, master_line in (
        ("en", "Awaiting dispatch → Awaiting acceptance", f"Master: {t.master_user.full_name}"),
        ("ru", "Ожидает → Ожидает принятия", f"Мастер: {t.master_user.full_name}"),
    ):
        client = await browser(h, await h.user("director", cities=[t.city.id]), lang=lang)
        fragment = await client.get(f"/requests/{req['id']}/history", headers={"HX-Request": "true"})
        assert status_line in text(fragment.text)
        assert master_line in text(fragment.text)
        page = await client.get(f"/requests/{req['id']}")
        assert ("Сохранить" if lang == "ru" else "Save") in page.text
        assert ("Принял" if lang == "ru" else "Accepted") in page.text


async def test_freshness_notice(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "new")
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    same = await director.get(f"/requests/{req['id']}/freshness", params={"version": req["version"]})
    assert "data-stale" not in same.text
    await move(t.director, req["id"], "callback")
    changed = await director.get(f"/requests/{req['id']}/freshness", params={"version": req["version"]})
    assert "data-stale" in changed.text and "Changed by someone else." in changed.text


async def test_files_preview_and_frames(h: Harness) -> None:
    t = await team(h)
    rid = (await create(t.director, t.city.id))["id"]
    director = await browser(h, await h.user("director", cities=[t.city.id]))
    for name, content, kind in (("bso.png", PNG, "bso"), ("receipt.pdf", PDF, "expense_receipt")):
        upload = await director.post(
            f"{API}/requests/{rid}/files", files={"file": (name, content)}, data={"kind": kind}, headers=csrf(director)
        )
        assert upload.status_code == 201, upload.text
    page = await director.get(f"/requests/{rid}")
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    img = re.search(r'<img class="thumb" src="(/api/v1/files/[^"]+\?inline=1)"', page.text)
    frame = re.search(r'<iframe class="pdf-frame" src="(/api/v1/files/[^"]+\?inline=1)"', page.text)
    assert img and frame
    pdf = await director.get(frame.group(1))
    assert pdf.status_code == 200 and pdf.headers["content-disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in pdf.headers["content-security-policy"]
    assert pdf.headers["x-frame-options"] == "SAMEORIGIN"
    picture = await director.get(img.group(1))
    assert picture.headers["x-frame-options"] == "DENY"
    assert "File added: BSO form" in text((await director.get(f"/requests/{rid}/history")).text)
