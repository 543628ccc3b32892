"""Personal data of a client phone (SPEC §11): the admin's export and erasure, across every table that holds a
phone, a name or an address, on the real database and the real (local) storage."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from leadflow.requests.personal_data import ERASED_PHONE, ERASED_TEXT
from tests.conftest import ON_POSTGRES, Harness, problem
from tests.files.helpers import files_on_disk
from tests.privacy.helpers import (
    ADDRESS,
    NAME,
    NEW_NAME,
    NOTE,
    OTHER_ADDRESS,
    OTHER_NAME,
    OTHER_PHONE,
    PERSONAL,
    PHONE,
    PROBLEM,
    SPELLINGS,
    TYPO_PHONE,
    World,
    audit_lines,
    erase_url,
    export_url,
    file_row,
    table_rows,
    world,
)
from tests.reports.helpers import by, report
from tests.requests.helpers import API, REQUESTS, around_today, events, url

Json = dict[str, Any]


@pytest.fixture
async def w(harness_factory: Any) -> World:
    return await world(harness_factory)


def without_moment(body: Json) -> Json:
    return {k: v for k, v in body.items() if k != "exported_at"}


async def exported(w: World, phone: str = PHONE) -> Json:
    answer = await w.admin.get(export_url(phone))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def figures(client: httpx.AsyncClient) -> dict[str, Json]:
    period = around_today()
    return {name: await report(client, name, **period) for name in ("summary", "cities", "campaigns", "masters")}


# Export -------------------------------------------------------------------------------------------------------------
async def test_export_finds_the_client_everywhere_whatever_the_spelling(w: World) -> None:
    bodies = [await exported(w, spelling) for spelling in SPELLINGS]
    assert all(without_moment(b) == without_moment(bodies[0]) for b in bodies)
    body = bodies[0]
    assert body["phone"] == PHONE
    by_id = {r["id"]: r for r in body["requests"]}
    assert set(by_id) == {w.done_id, w.lead_id}  # B is another client's now; D never was theirs
    done = by_id[w.done_id]
    assert (done["client_phone"], done["client_name"], done["address"]) == (PHONE, NEW_NAME, ADDRESS)
    assert (done["problem"], done["call_center_notes"], done["status"]) == (PROBLEM, NOTE, "done")
    assert (done["result"], done["expenses"]) == ("5000.00", "1000.00")
    assert {"version", "created_at", "master_id", "request_type_id", "deleted_at"} <= done.keys()  # every field
    assert by_id[w.lead_id]["source"] == "telephony"
    history = body["request_events"]
    assert {e["request_id"] for e in history} == {w.done_id, w.lead_id, w.typo_id}
    [typo_edit] = [e for e in history if e["request_id"] == w.typo_id]
    assert typo_edit["data"]["changes"]["client_phone"] == {"from": PHONE, "to": TYPO_PHONE}
    renamed = [e for e in history if e["kind"] == "updated" and e["request_id"] == w.done_id]
    assert renamed[0]["data"]["changes"]["client_name"] == {"from": NAME, "to": NEW_NAME}
    assert any(e["kind"] == "call" and e["data"]["caller"] == PHONE for e in history)
    assert sorted(c["entry_id"] for c in body["calls"]) == ["entry-1", "entry-2"]
    assert all(c["caller"] == PHONE for c in body["calls"])
    [recording] = body["call_recordings"]
    assert recording["id"] == w.recording_id and recording["caller"] == PHONE
    kinds = sorted((f["kind"], f["request_id"] or f["recording_id"]) for f in body["files"])
    assert kinds == [("bso", w.done_id), ("recording", w.recording_id)]
    assert all("storage_key" not in f for f in body["files"])
    assert OTHER_NAME not in json.dumps(body, ensure_ascii=False)
    [line, *_] = await audit_lines(w.h, "personal_data_exported")
    assert line.target_type == "client_phone" and PHONE not in (line.target_id or "")
    assert line.data == {"format": "json", "requests": 2, "request_events": len(history), "calls": 2,
                         "call_recordings": 1, "files": 2}  # fmt: skip


async def test_zip_export_holds_the_stored_bytes_and_the_document(w: World) -> None:
    answer = await w.admin.get(export_url("8 (916) 123-45-67"), params={"format": "zip"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["content-disposition"] == f'attachment; filename="client-{PHONE}.zip"'
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    document = json.loads(archive.read("data.json"))
    assert without_moment(document) | {"archive": None} == without_moment(await exported(w)) | {"archive": None}
    held = document["archive"]["files"]
    assert document["archive"]["missing"] == []
    by_kind = {f["kind"]: f["id"] for f in document["files"]}
    assert archive.read(held[by_kind["bso"]]) == w.bso
    assert archive.read(held[by_kind["recording"]]) == w.audio
    assert sorted(archive.namelist()) == sorted([*held.values(), "data.json"])


# Erase ----------------------------------------------------------------------------------------------------------------
async def test_erase_anonymizes_every_row_deletes_the_blobs_and_keeps_the_figures(
    w: World, harness_factory: Any
) -> None:
    assert len(files_on_disk(w.h)) == 3  # the bso, the other client's bso, the recording
    before = await figures(w.admin)
    city = by(before["cities"]["items"], "city_id")[w.t.city.id]
    assert (city["requests_total"], city["done"], city["revenue"]) == (4, 1, "5000.00")  # A, B, C, D; A is done
    other_before = (await w.admin.get(url(w.other_id))).json()
    answer = await w.admin.post(erase_url("+7 (916) 123-45-67"))
    assert answer.status_code == 200, answer.text
    counts = answer.json()
    history = (await events(w.admin, w.done_id)) + (await events(w.admin, w.lead_id))
    assert counts == {
        "phone_masked": "7916*****67",
        "requests": 2,
        "request_events": counts["request_events"],
        "calls": 2,
        "call_recordings": 1,
        "files": 2,
        "orphaned_files": [],
    }
    assert counts["request_events"] >= 4  # the rename, the done note, the attached call, the typo edit

    # Nothing personal is left in any table that held it.
    stored = await table_rows(w.h)
    dump = json.dumps(stored, default=str, ensure_ascii=False)
    for value in PERSONAL:
        assert value not in dump, value
    # The other client is untouched, their blob too; the client's two blobs are gone.
    assert OTHER_NAME in dump and OTHER_ADDRESS in dump and OTHER_PHONE in dump and TYPO_PHONE in dump
    assert (await w.admin.get(url(w.other_id))).json() == other_before
    assert [p.read_bytes() for p in files_on_disk(w.h)] == [w.other_bso]

    # The rows stay, anonymized, with their statuses, money, dates and references.
    done = (await w.admin.get(url(w.done_id))).json()
    assert (done["client_phone"], done["client_name"], done["address"]) == (ERASED_PHONE, ERASED_TEXT, ERASED_TEXT)
    assert (done["problem"], done["call_center_notes"], done["master_notes"]) == (ERASED_TEXT, ERASED_TEXT, None)
    assert (done["status"], done["result"], done["expenses"], done["files"]) == ("done", "5000.00", "1000.00", [])
    lead = (await w.admin.get(url(w.lead_id))).json()
    assert (lead["client_phone"], lead["client_name"], lead["address"]) == (ERASED_PHONE, None, None)
    [recording] = lead["recordings"]  # linked to the lead of the campaign whose line it came on
    assert (recording["id"], recording["caller"], recording["file"]) == (w.recording_id, None, None)
    assert history[-1]["kind"] == "erased"
    renamed = next(e for e in history if e["kind"] == "updated")
    assert renamed["data"]["changes"]["client_name"] == {"from": ERASED_TEXT, "to": ERASED_TEXT}
    typo = (await events(w.admin, w.typo_id))[-1]
    assert typo["data"]["changes"]["client_phone"] == {"from": ERASED_PHONE, "to": TYPO_PHONE}
    assert (await w.admin.get(url(w.typo_id))).json()["client_name"] == "Олег"
    calls = {c["entry_id"]: c for c in (await w.admin.get(f"{API}/calls")).json()["items"]}
    assert calls["entry-1"]["caller"] is None and calls["entry-1"]["outcome"] == "created_request"
    assert calls["entry-1"]["request_id"] == w.lead_id
    assert await figures(w.admin) == before
    # The same figures computed afresh, by an app whose cache has never seen them.
    fresh: Harness = await harness_factory()
    assert await figures(await fresh.as_user(await fresh.user("admin"))) == before

    [line] = await audit_lines(w.h, "personal_data_erased")
    me = (await w.admin.get(f"{API}/auth/me")).json()["id"]
    assert (line.actor_id, line.result, line.target_type) == (me, "ok", "client_phone")
    assert line.data == {k: v for k, v in counts.items() if k not in ("phone_masked", "orphaned_files")}
    assert line.at is not None and PHONE not in (line.target_id or "")
    deleted = [row for row in stored["files"] if row["deleted_at"] is not None]
    assert len(deleted) == 2 and all(row["original_name"] == "erased" for row in deleted)


async def test_erasing_twice_is_a_404_and_changes_nothing(w: World) -> None:
    assert (await w.admin.post(erase_url(PHONE))).status_code == 200
    after_first = await table_rows(w.h)
    problem(await w.admin.post(erase_url("89161234567")), 404, "not-found")
    problem(await w.admin.get(export_url(PHONE)), 404, "not-found")
    assert await table_rows(w.h) == after_first
    assert len(await audit_lines(w.h, "personal_data_erased")) == 1


async def test_the_client_calling_again_is_a_first_time_client(w: World) -> None:
    assert (await w.admin.post(erase_url(PHONE))).status_code == 200
    again = await w.t.operator.post(REQUESTS, json={"city_id": w.t.city.id, "client_phone": "89161234567"})
    assert again.status_code == 201, again.text
    assert again.json()["request_type"]["code"] == "first_time"
    [found] = (await exported(w))["requests"]
    assert found["id"] == again.json()["id"]
    # The erased marker is no phone anyone can type, search or erase.
    problem(await w.admin.get(export_url(ERASED_PHONE)), 422)


async def test_a_deleted_request_of_the_client_is_exported_and_erased_too(w: World) -> None:
    version = (await w.admin.get(url(w.lead_id))).json()["version"]
    deleted = await w.admin.delete(url(w.lead_id), headers={"If-Match": f'"{version}"'})
    assert deleted.status_code == 204, deleted.text
    [gone] = [r for r in (await exported(w))["requests"] if r["id"] == w.lead_id]
    assert gone["deleted_at"] is not None and gone["client_phone"] == PHONE
    answer = await w.admin.post(erase_url(PHONE))
    assert answer.status_code == 200 and answer.json()["requests"] == 2, answer.text
    stored = {row["id"]: row for row in (await table_rows(w.h))["requests"]}
    assert stored[w.lead_id]["client_phone"] == ERASED_PHONE and stored[w.lead_id]["deleted_at"] is not None


async def _block_file_updates(h: Harness) -> list[str]:
    """A real refusal by the database in the erasure's last step (the files), and the statements that undo it."""
    if ON_POSTGRES:
        create = [
            "CREATE FUNCTION privacy_test_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test' USING ERRCODE = 'check_violation'; END $$",
            "CREATE TRIGGER privacy_test_refuse BEFORE UPDATE ON files FOR EACH ROW "
            "EXECUTE FUNCTION privacy_test_refuse()",
        ]
        drop = ["DROP TRIGGER privacy_test_refuse ON files", "DROP FUNCTION privacy_test_refuse()"]
    else:
        create = ["CREATE TRIGGER privacy_test_refuse BEFORE UPDATE ON files BEGIN SELECT RAISE(ABORT, 'refused'); END"]
        drop = ["DROP TRIGGER privacy_test_refuse"]
    async with h.database.session() as session:
        for statement in create:
            await session.execute(text(statement))
        await session.commit()
    return drop


async def test_a_failure_half_way_leaves_everything_as_it_was(w: World) -> None:
    before_rows = await table_rows(w.h)
    before_export = without_moment(await exported(w))
    blobs = [p.read_bytes() for p in files_on_disk(w.h)]
    drop = await _block_file_updates(w.h)
    try:
        problem(await w.admin.post(erase_url(PHONE)), 409, "erasure-refused")
    finally:
        async with w.h.database.session() as session:
            for statement in drop:
                await session.execute(text(statement))
            await session.commit()
    assert await table_rows(w.h) == before_rows
    assert without_moment(await exported(w)) == before_export
    assert [p.read_bytes() for p in files_on_disk(w.h)] == blobs
    assert await audit_lines(w.h, "personal_data_erased") == []
    # Once the database takes it, the erasure goes through.
    assert (await w.admin.post(erase_url(PHONE))).status_code == 200


async def test_content_the_storage_keeps_is_listed_as_an_orphan_and_the_rows_stay_erased(w: World) -> None:
    bso = await file_row(w.h, request_id=w.done_id)
    # The storage cannot delete this content: a directory stands where the file was.
    path = w.h.settings.data_dir / "files" / bso.storage_key
    path.unlink()
    path.mkdir()
    (path / "stuck").write_bytes(b"x")
    try:
        answer = await w.admin.post(erase_url(PHONE))
        assert answer.status_code == 200, answer.text
        assert answer.json()["orphaned_files"] == [bso.id]
        assert answer.json()["files"] == 2
    finally:
        shutil.rmtree(path)
    [orphans] = await audit_lines(w.h, "personal_data_orphans")
    assert orphans.result == "failed"
    assert orphans.data == {"files": [{"id": bso.id, "storage_key": bso.storage_key}]}
    dump = json.dumps(await table_rows(w.h), default=str, ensure_ascii=False)
    assert all(value not in dump for value in PERSONAL)
    assert [p.read_bytes() for p in files_on_disk(w.h)] == [w.other_bso]


# Who may ---------------------------------------------------------------------------------------------------------------
async def test_only_admins_and_bad_phones(w: World) -> None:
    before = await table_rows(w.h)
    for role in ("director", "operator", "marketer", "master"):
        client = w.t.client(role)
        problem(await client.get(export_url(PHONE)), 403)
        problem(await client.get(export_url(PHONE), params={"format": "zip"}), 403)
        problem(await client.post(erase_url(PHONE)), 403)
    anonymous = w.h.new_client()
    problem(await anonymous.get(export_url(PHONE)), 401)
    problem(await anonymous.post(erase_url(PHONE)), 401)
    problem(await w.admin.get(export_url("79990000000")), 404, "not-found")
    problem(await w.admin.post(erase_url("79990000000")), 404, "not-found")
    for bad in ("abc", "123", "7916123456789012", "0000000000"):
        problem(await w.admin.get(export_url(bad)), 422)
        problem(await w.admin.post(erase_url(bad)), 422)
    problem(await w.admin.get(export_url(PHONE), params={"format": "xml"}), 422)
    assert await table_rows(w.h) == before
    assert await audit_lines(w.h, "personal_data_exported") == []
