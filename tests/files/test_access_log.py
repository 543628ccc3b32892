"""The file access log (SPEC §2 ``file_access_log``, §7): every upload, view, download, delete and denial writes one
row, and ``GET /file-access-log`` shows them to admins, newest first, filtered on the server.

The first four tests are the issue's "Done when" items: a lying extension (415), an oversize upload (413), a master
reading another master's file (404) and an anonymous read (401) each leave their row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from leadflow.files.models import FileAccess
from tests.conftest import Harness, problem
from tests.files.helpers import (
    ACCESS_LOG,
    API,
    FILES,
    Scene,
    file_rows,
    files_on_disk,
    jpeg,
    log_rows,
    me,
    padded_png,
    pdf,
    png,
    scene,
    temp_leftovers,
    upload,
    uploaded,
)
from tests.requests.helpers import local_today

UA = {"User-Agent": "leadflow-files-test/1.0"}


@pytest.fixture
async def s(h: Harness) -> Scene:
    return await scene(h)


def triples(rows: list[FileAccess]) -> list[tuple[str | None, str, str]]:
    return [(r.file_id, r.action, r.result) for r in rows]


# The "Done when" items ------------------------------------------------------------------------------------
async def test_done_when_a_lying_extension_is_415_and_logged(s: Scene) -> None:
    director_id = await me(s.t.director)
    response = await upload(s.t.director, s.upload_url, png(), "receipt.pdf", headers=UA)
    problem(response, 415, "unsupported-file-type")
    [row] = await log_rows(s.h)
    assert (row.file_id, row.user_id, row.action, row.result) == (None, director_id, "upload", "rejected:415")
    assert (row.ip, row.user_agent) == ("127.0.0.1", UA["User-Agent"])
    assert await file_rows(s.h) == [] and files_on_disk(s.h) == [] and temp_leftovers(s.h) == []
    listed = (await s.t.admin.get(ACCESS_LOG, params={"action": "upload"})).json()
    assert [(i["user_id"], i["action"], i["result"]) for i in listed["items"]] == [
        (director_id, "upload", "rejected:415")
    ]


async def test_done_when_an_oversize_upload_is_413_and_logged(harness_factory: Any) -> None:
    s = await scene(await harness_factory(upload_max_bytes=4096))
    master_id = s.t.master_id
    problem(await upload(s.t.master, s.upload_url, padded_png(4097), "big.png", headers=UA), 413, "file-too-large")
    [row] = await log_rows(s.h)
    assert (row.file_id, row.user_id, row.action, row.result) == (None, master_id, "upload", "rejected:413")
    assert (row.ip, row.user_agent) == ("127.0.0.1", UA["User-Agent"])
    assert await file_rows(s.h) == [] and files_on_disk(s.h) == [] and temp_leftovers(s.h) == []


async def test_done_when_a_master_reading_another_masters_file_is_404_and_logged(s: Scene) -> None:
    own = await uploaded(s.t.master, s.upload_url, jpeg(seed=21), "bso.jpg")
    intruder = await s.other("other_master")
    intruder_id = await me(intruder)
    problem(await intruder.get(own["url"], headers=UA), 404, "not-found")
    problem(await intruder.get(own["url"], params={"inline": "1"}), 404, "not-found")
    rows = await log_rows(s.h)
    assert triples(rows) == [
        (own["id"], "upload", "ok"),
        (own["id"], "denied", "download:404"),
        (own["id"], "denied", "view:404"),
    ]
    assert [r.user_id for r in rows] == [s.t.master_id, intruder_id, intruder_id]
    assert rows[1].user_agent == UA["User-Agent"] and rows[1].ip == "127.0.0.1"
    denied = (await s.t.admin.get(ACCESS_LOG, params={"action": "denied"})).json()
    assert [(i["file_id"], i["user_id"], i["result"]) for i in denied["items"]] == [
        (own["id"], intruder_id, "view:404"),
        (own["id"], intruder_id, "download:404"),
    ]


async def test_done_when_an_anonymous_read_is_401_and_logged(s: Scene) -> None:
    stored = await uploaded(s.t.director, s.upload_url, png(seed=22), "bso.png")
    problem(await s.h.client.get(stored["url"], headers=UA), 401)
    rows = await log_rows(s.h)
    assert triples(rows) == [(stored["id"], "upload", "ok"), (stored["id"], "denied", "download:401")]
    assert (rows[1].user_id, rows[1].ip, rows[1].user_agent) == (None, "127.0.0.1", UA["User-Agent"])
    listed = (await s.t.admin.get(ACCESS_LOG, params={"file_id": stored["id"]})).json()
    assert [(i["user_id"], i["action"], i["result"]) for i in listed["items"]] == [
        (None, "denied", "download:401"),
        (await me(s.t.director), "upload", "ok"),
    ]


# Every other action ------------------------------------------------------------------------------------------------
async def test_every_action_writes_its_row(s: Scene) -> None:
    data = png(seed=23)
    first = await uploaded(s.t.director, s.upload_url, data, "a.png")
    assert (await upload(s.t.master, s.upload_url, data, "a.png")).status_code == 200
    assert (await s.t.operator.get(first["url"])).status_code == 200
    assert (await s.t.marketer.get(first["url"], params={"inline": "1"})).status_code == 200
    assert (await s.t.master.get(first["url"], headers={"Range": "bytes=0-3"})).status_code == 206
    assert (await s.t.master.get(first["url"], headers={"Range": "bytes=-5"})).status_code == 206
    problem(await s.t.operator.delete(first["url"]), 403)
    problem(await s.t.director.get(first["url"], headers={"Range": "bytes=100000-"}), 416)
    assert (await s.t.director.delete(first["url"])).status_code == 204
    problem(await s.t.director.get(first["url"]), 404)
    fid, size = first["id"], len(data)
    rows = await log_rows(s.h)
    assert triples(rows) == [
        (fid, "upload", "ok"),
        (fid, "upload", "duplicate"),
        (fid, "download", "ok"),
        (fid, "view", "ok"),
        (fid, "download", "ok:0-3"),
        (fid, "download", f"ok:{size - 5}-{size - 1}"),
        (fid, "denied", "delete:403"),
        (fid, "download", "rejected:416"),
        (fid, "delete", "ok"),
        (fid, "denied", "download:404"),
    ]
    ids = {name: await me(s.t.client(name)) for name in ("director", "operator", "marketer", "master")}
    who = [
        "director",
        "master",
        "operator",
        "marketer",
        "master",
        "master",
        "operator",
        "director",
        "director",
        "director",
    ]
    assert [r.user_id for r in rows] == [ids[n] for n in who]
    assert all(r.ip == "127.0.0.1" and r.at is not None for r in rows)


async def test_refused_uploads_are_logged_with_their_status(s: Scene) -> None:
    director_id = await me(s.t.director)
    problem(await upload(s.t.director, s.upload_url, b"", "empty.png"), 422)
    problem(await upload(s.t.director, s.upload_url, png(), "a.png", "nope"), 422)
    problem(await upload(s.t.operator, s.upload_url, png()), 403)
    problem(await upload(await s.other("other_master"), s.upload_url, png()), 404)
    problem(await upload(s.h.client, s.upload_url, png()), 401)
    rows = await log_rows(s.h)
    assert triples(rows) == [
        (None, "upload", "rejected:422"),
        (None, "upload", "rejected:422"),
        (None, "denied", "upload:403"),
        (None, "denied", "upload:404"),
        (None, "denied", "upload:401"),
    ]
    assert [r.user_id for r in rows] == [
        director_id,
        director_id,
        await me(s.t.operator),
        await me(await s.other("other_master")),
        None,
    ]


async def test_probes_for_files_that_do_not_exist_are_logged_as_sent(s: Scene) -> None:
    ghost = str(uuid.uuid4())
    problem(await s.t.director.get(f"{FILES}/{ghost}"), 404)
    problem(await s.t.director.delete(f"{FILES}/not-a-uuid"), 404)
    problem(await s.h.client.delete(f"{FILES}/{ghost}"), 401)
    assert triples(await log_rows(s.h)) == [
        (ghost, "denied", "download:404"),
        ("not-a-uuid", "denied", "delete:404"),
        (ghost, "denied", "delete:401"),
    ]


async def test_a_transaction_receipt_read_by_an_operator_is_a_logged_404(s: Scene) -> None:
    from tests.files.helpers import book_transaction

    tx = await book_transaction(s.t.admin, s.t.city.id)
    receipt = await uploaded(
        s.t.admin, f"{API}/transactions/{tx['id']}/files", pdf("t"), "t.pdf", "transaction_receipt"
    )
    problem(await s.t.operator.get(receipt["url"]), 404)
    assert triples(await log_rows(s.h)) == [
        (receipt["id"], "upload", "ok"),
        (receipt["id"], "denied", "download:404"),
    ]


async def test_an_upload_far_over_the_limit_is_refused_before_it_is_read_and_logged(harness_factory: Any) -> None:
    """Past the limit plus 64 KB of multipart overhead the body is refused as it arrives, before the route runs; the
    refusal still has its log line, with the caller."""
    s = await scene(await harness_factory(upload_max_bytes=1024))
    director_id = await me(s.t.director)
    response = await upload(s.t.director, s.upload_url, padded_png(1024 + 70 * 1024), "big.png", headers=UA)
    problem(response, 413)
    assert await file_rows(s.h) == [] and files_on_disk(s.h) == [] and temp_leftovers(s.h) == []
    rows = await log_rows(s.h)
    assert [(r.file_id, r.user_id, r.action, r.result) for r in rows] == [(None, director_id, "upload", "rejected:413")]
    assert (rows[0].ip, rows[0].user_agent) == ("127.0.0.1", UA["User-Agent"])
    problem(await upload(s.h.client, s.upload_url, padded_png(1024 + 70 * 1024), "big.png"), 413)
    assert [(r.user_id, r.action, r.result) for r in await log_rows(s.h)][1:] == [(None, "upload", "rejected:413")]


async def test_an_upload_far_over_the_limit_is_file_too_large_too(harness_factory: Any) -> None:
    s = await scene(await harness_factory(upload_max_bytes=1024))
    response = await upload(s.t.director, s.upload_url, padded_png(1024 + 70 * 1024), "big.png")
    problem(response, 413, "file-too-large")


# The endpoint ------------------------------------------------------------------------------------------------------
async def test_the_log_is_for_admins_only(s: Scene) -> None:
    for who in ("director", "operator", "marketer", "master"):
        problem(await s.t.client(who).get(ACCESS_LOG), 403)
    problem(await s.h.client.get(ACCESS_LOG), 401)
    assert (await s.t.admin.get(ACCESS_LOG)).json() == {"items": [], "total": 0, "page": 1, "per_page": 50}


async def test_the_log_lists_newest_first_and_filters_on_the_server(s: Scene) -> None:
    a = await uploaded(s.t.director, s.upload_url, png(seed=24), "a.png")
    b = await uploaded(s.t.master, s.upload_url, png(seed=25), "b.png")
    assert (await s.t.master.get(a["url"])).status_code == 200
    other = await s.other("other_master")
    problem(await other.get(b["url"]), 404)
    director_id, master_id, other_id = await me(s.t.director), s.t.master_id, await me(other)

    everything = (await s.t.admin.get(ACCESS_LOG)).json()
    assert everything["total"] == 4
    assert [(i["file_id"], i["user_id"], i["action"], i["result"]) for i in everything["items"]] == [
        (b["id"], other_id, "denied", "download:404"),
        (a["id"], master_id, "download", "ok"),
        (b["id"], master_id, "upload", "ok"),
        (a["id"], director_id, "upload", "ok"),
    ]
    item = everything["items"][0]
    assert set(item) == {"id", "file_id", "user_id", "action", "result", "ip", "user_agent", "at"}
    assert item["at"].endswith("Z") and item["ip"] == "127.0.0.1" and item["user_agent"].startswith("python-httpx/")
    assert [i["id"] for i in everything["items"]] == sorted((i["id"] for i in everything["items"]), reverse=True)

    async def ids(**params: Any) -> list[tuple[str, str]]:
        answer = await s.t.admin.get(ACCESS_LOG, params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] == len(body["items"]) or "per_page" in params
        return [(i["action"], i["file_id"]) for i in body["items"]]

    assert await ids(file_id=a["id"]) == [("download", a["id"]), ("upload", a["id"])]
    assert await ids(user_id=master_id) == [("download", a["id"]), ("upload", b["id"])]
    assert await ids(action="upload") == [("upload", b["id"]), ("upload", a["id"])]
    assert await ids(action="denied", file_id=b["id"]) == [("denied", b["id"])]
    assert await ids(action="delete") == []
    today = local_today()
    assert len(await ids(date_from=today.isoformat(), date_to=today.isoformat())) == 4
    assert await ids(date_to=(today - dt.timedelta(days=1)).isoformat()) == []
    assert await ids(date_from=(today + dt.timedelta(days=1)).isoformat()) == []
    paged = (await s.t.admin.get(ACCESS_LOG, params={"per_page": 3, "page": 2})).json()
    assert (paged["total"], [i["action"] for i in paged["items"]]) == (4, ["upload"])
    problem(await s.t.admin.get(ACCESS_LOG, params={"action": "steal"}), 422)
    problem(await s.t.admin.get(ACCESS_LOG, params={"per_page": 201}), 422)
