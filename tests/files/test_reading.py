"""Reading and deleting files (SPEC §7, §5 Files): download and inline view with their headers, single byte ranges,
who may read a file (the right to read its owner; out of scope is 404), who may delete it, and what a delete leaves
in the request's detail and history.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import Harness, problem
from tests.files.helpers import (
    API,
    FILES,
    Scene,
    book_transaction,
    delete_request,
    file_rows,
    files_on_disk,
    jpeg,
    me,
    pdf,
    png,
    raw_upload,
    scene,
    uploaded,
)
from tests.requests.helpers import events, move, url

CSP = "default-src 'none'; media-src 'self'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@pytest.fixture
async def s(h: Harness) -> Scene:
    return await scene(h)


@pytest.fixture
async def stored(s: Scene) -> dict[str, Any]:
    """A PNG uploaded by the director to the scene's request, named in Russian."""
    return await uploaded(s.t.director, s.upload_url, png(4, 4, seed=11), "Чек №1.png")


# Download and view -------------------------------------------------------------------------------------------------
async def test_download_sends_the_bytes_with_safe_headers(s: Scene, stored: dict[str, Any]) -> None:
    data = png(4, 4, seed=11)
    response = await s.t.director.get(stored["url"])
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(data))
    assert response.headers["content-disposition"] == (
        f"attachment; filename=\"___ _1.png\"; filename*=UTF-8''{quote('Чек №1.png')}"
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert response.headers["cache-control"] == "no-store"
    assert "content-range" not in response.headers


async def test_inline_view_says_inline(s: Scene, stored: dict[str, Any]) -> None:
    response = await s.t.director.get(stored["url"], params={"inline": "1"})
    assert response.status_code == 200 and response.content == png(4, 4, seed=11)
    assert response.headers["content-disposition"].startswith('inline; filename="')
    assert response.headers["content-disposition"].endswith(f"filename*=UTF-8''{quote('Чек №1.png')}")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_names_with_quotes_and_non_ascii_stay_one_safe_header(s: Scene) -> None:
    """The ASCII ``filename`` has quotes and non-ASCII characters replaced; ``filename*`` carries the exact name."""
    expected = {
        b'act \\"7\\".pdf': ('act "7".pdf', "attachment; filename=\"act _7_.pdf\"; filename*=UTF-8''act%20%227%22.pdf"),
        "café — 1.pdf".encode(): (
            "café — 1.pdf",
            "attachment; filename=\"caf_ _ 1.pdf\"; filename*=UTF-8''caf%C3%A9%20%E2%80%94%201.pdf",
        ),
    }
    got = {}
    for n, raw in enumerate(expected):
        body = (await raw_upload(s.t.director, s.upload_url, raw, pdf(str(n)), "expense_receipt")).json()
        response = await s.t.director.get(body["url"])
        assert response.headers["content-type"] == "application/pdf"
        got[raw] = (body["original_name"], response.headers["content-disposition"])
    assert got == expected


# Ranges ------------------------------------------------------------------------------------------------------------
async def test_a_single_range_answers_206_with_exactly_those_bytes(s: Scene, stored: dict[str, Any]) -> None:
    data = png(4, 4, seed=11)
    size = len(data)
    wanted = {
        "bytes=0-3": (0, 3),
        "bytes=-4": (size - 4, size - 1),  # the suffix form: the last four bytes
        "bytes=10-": (10, size - 1),
        "bytes=5-5": (5, 5),
        "bytes=2-99999": (2, size - 1),  # a last byte past the end is the end
        f"bytes={size - 1}-": (size - 1, size - 1),
        f"bytes=-{size + 10}": (0, size - 1),
    }
    got = {}
    for header in wanted:
        response = await s.t.director.get(stored["url"], headers={"Range": header})
        got[header] = (
            response.status_code,
            response.content,
            response.headers.get("content-range"),
            response.headers.get("content-length"),
            response.headers["content-type"],
        )
    assert got == {
        header: (206, data[a : b + 1], f"bytes {a}-{b}/{size}", str(b - a + 1), "image/png")
        for header, (a, b) in wanted.items()
    }


async def test_a_range_outside_the_file_is_416(s: Scene, stored: dict[str, Any]) -> None:
    headers = ["bytes=100000-", f"bytes={stored['size']}-", "bytes=5-2", "bytes=-0"]
    got = {}
    for header in headers:
        response = await s.t.director.get(stored["url"], headers={"Range": header})
        got[header] = (
            problem(response, response.status_code)["type"].rsplit("/", 1)[-1],
            response.headers.get("content-range"),
        )
        assert response.status_code == 416, header
    assert got == dict.fromkeys(headers, ("range-not-satisfiable", f"bytes */{stored['size']}"))


async def test_several_ranges_or_another_unit_get_the_whole_file(s: Scene, stored: dict[str, Any]) -> None:
    headers = ["bytes=0-1,4-5", "items=0-3", "bytes=abc", "bytes=-", "bytes=0-3 "]
    got = {}
    for header in headers:
        response = await s.t.director.get(stored["url"], headers={"Range": header})
        got[header] = (response.status_code, response.content, response.headers.get("content-range"))
    whole = (200, png(4, 4, seed=11), None)
    assert got == {
        "bytes=0-1,4-5": whole,
        "items=0-3": whole,
        "bytes=abc": whole,
        "bytes=-": whole,
        "bytes=0-3 ": (206, png(4, 4, seed=11)[:4], f"bytes 0-3/{stored['size']}"),
    }


async def test_a_range_with_an_absurdly_large_first_byte_is_416_too(s: Scene, stored: dict[str, Any]) -> None:
    response = await s.t.director.get(stored["url"], headers={"Range": "bytes=99999999999999999999-"})
    problem(response, 416, "range-not-satisfiable")
    assert response.headers["content-range"] == f"bytes */{stored['size']}"


# Who reads ---------------------------------------------------------------------------------------------------------
async def test_reading_a_request_file_follows_the_request(s: Scene, stored: dict[str, Any]) -> None:
    everywhere = await s.h.as_user(await s.h.user("operator"))  # no cities: every city's requests
    readers = {
        "admin": s.t.admin,
        "director": s.t.director,
        "operator": s.t.operator,
        "operator_everywhere": everywhere,
        "marketer": s.t.marketer,
        "master": s.t.master,  # the request's master
        "other_master": await s.other("other_master"),
        "outsider_director": await s.other("outsider_director"),
        "outsider_operator": await s.other("outsider_operator"),
        "anonymous": s.h.client,
    }
    got = {}
    for who, client in readers.items():
        response = await client.get(stored["url"])
        got[who] = (response.status_code, response.content if response.status_code == 200 else None)
    ok = (200, png(4, 4, seed=11))
    assert got == {
        "admin": ok,
        "director": ok,
        "operator": ok,
        "operator_everywhere": ok,
        "marketer": ok,
        "master": ok,
        "other_master": (404, None),
        "outsider_director": (404, None),
        "outsider_operator": (404, None),
        "anonymous": (401, None),
    }


async def test_transaction_receipts_are_for_cashiers_only(s: Scene) -> None:
    tx = await book_transaction(s.t.admin, s.t.city.id)
    receipt = await uploaded(
        s.t.director, f"{API}/transactions/{tx['id']}/files", pdf("tx"), "r.pdf", "transaction_receipt"
    )
    everywhere = await s.h.as_user(await s.h.user("operator"))
    readers = {
        "admin": s.t.admin,
        "director": s.t.director,
        "operator": s.t.operator,
        "operator_everywhere": everywhere,
        "marketer": s.t.marketer,
        "master": s.t.master,
        "outsider_director": await s.other("outsider_director"),
    }
    got = {}
    for who, client in readers.items():
        response = await client.get(receipt["url"])
        got[who] = (response.status_code, response.content if response.status_code == 200 else None)
    assert got == {
        "admin": (200, pdf("tx")),
        "director": (200, pdf("tx")),
        "operator": (404, None),
        "operator_everywhere": (404, None),
        "marketer": (404, None),
        "master": (404, None),
        "outsider_director": (404, None),
    }
    deleted = await s.t.admin.delete(f"{API}/transactions/{tx['id']}", headers={"If-Match": f'"{tx["version"]}"'})
    assert deleted.status_code == 204, deleted.text
    problem(await s.t.admin.get(receipt["url"]), 404, "not-found")


async def test_unknown_or_malformed_ids_are_404(s: Scene, stored: dict[str, Any]) -> None:
    ids = ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "1", "..%2F..%2Fetc", stored["id"].upper()]
    got = {}
    for file_id in ids:
        read, delete = await s.t.admin.get(f"{FILES}/{file_id}"), await s.t.admin.delete(f"{FILES}/{file_id}")
        got[file_id] = (
            read.status_code,
            delete.status_code,
            problem(read, read.status_code)["type"].rsplit("/", 1)[-1],
        )
    assert got == dict.fromkeys(ids, (404, 404, "not-found"))
    assert (await s.t.admin.get(stored["url"])).status_code == 200


async def test_files_of_a_deleted_request_are_gone(s: Scene, stored: dict[str, Any]) -> None:
    await delete_request(s.t.admin, s.rid)
    problem(await s.t.admin.get(stored["url"]), 404, "not-found")
    problem(await s.t.master.get(stored["url"]), 404, "not-found")


async def test_a_master_taken_off_the_request_loses_its_files(s: Scene) -> None:
    own = await uploaded(s.t.master, s.upload_url, jpeg(seed=12), "own.jpg")
    assert (await s.t.master.get(own["url"])).status_code == 200
    replacement = await s.h.user("master", master_city=s.t.city.id)
    moved = await move(s.t.director, s.rid, "awaiting_acceptance", master_id=replacement.id)
    assert moved["master_id"] == replacement.id
    problem(await s.t.master.get(own["url"]), 404, "not-found")
    problem(await s.t.master.delete(own["url"]), 404, "not-found")


# The request's detail and history ----------------------------------------------------------------------------------
async def test_request_detail_lists_its_files_in_upload_order(s: Scene) -> None:
    first = await uploaded(s.t.director, s.upload_url, png(seed=13), "b.png")
    second = await uploaded(s.t.master, s.upload_url, pdf("r"), "r.pdf", "expense_receipt")
    for client in (s.t.admin, s.t.director, s.t.operator, s.t.marketer, s.t.master):
        assert (await client.get(url(s.rid))).json()["files"] == [first, second]
    listed = (await s.t.director.get(f"{API}/requests", params={"per_page": 200})).json()["items"]
    assert all("files" not in item for item in listed)
    added = [e for e in await events(s.t.director, s.rid) if e["kind"] == "file_added"]
    assert [(e["actor_id"], e["data"]) for e in added] == [
        (first["uploaded_by_id"], {"file_id": first["id"], "kind": "bso"}),
        (s.t.master_id, {"file_id": second["id"], "kind": "expense_receipt"}),
    ]


# Delete ------------------------------------------------------------------------------------------------------------
async def test_delete_removes_the_file_everywhere(s: Scene, stored: dict[str, Any]) -> None:
    [on_disk] = files_on_disk(s.h)
    response = await s.t.director.delete(stored["url"])
    assert response.status_code == 204 and response.content == b""
    problem(await s.t.director.get(stored["url"]), 404, "not-found")
    problem(await s.t.admin.get(stored["url"]), 404, "not-found")
    problem(await s.t.director.delete(stored["url"]), 404, "not-found")
    assert (await s.t.director.get(url(s.rid))).json()["files"] == []
    assert not on_disk.exists() and files_on_disk(s.h) == []
    [row] = await file_rows(s.h)
    assert row.id == stored["id"] and row.deleted_at is not None
    assert abs(row.deleted_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    history = [(e["kind"], e["data"]) for e in await events(s.t.director, s.rid) if e["kind"].startswith("file_")]
    assert history == [
        ("file_added", {"file_id": stored["id"], "kind": "bso"}),
        ("file_deleted", {"file_id": stored["id"], "kind": "bso"}),
    ]
    deleter = next(e for e in await events(s.t.director, s.rid) if e["kind"] == "file_deleted")["actor_id"]
    assert deleter == await me(s.t.director)


async def test_the_same_bytes_after_a_delete_are_a_new_file(s: Scene, stored: dict[str, Any]) -> None:
    assert (await s.t.director.delete(stored["url"])).status_code == 204
    again = await uploaded(s.t.director, s.upload_url, png(4, 4, seed=11), "again.png")
    assert again["id"] != stored["id"] and again["sha256"] == stored["sha256"]
    assert (await s.t.director.get(again["url"])).content == png(4, 4, seed=11)


async def test_admins_and_directors_delete_anyones_file(s: Scene) -> None:
    first = await uploaded(s.t.master, s.upload_url, jpeg(seed=14), "m1.jpg")
    second = await uploaded(s.t.master, s.upload_url, jpeg(seed=15), "m2.jpg")
    assert (await s.t.admin.delete(first["url"])).status_code == 204
    assert (await s.t.director.delete(second["url"])).status_code == 204
    problem(await s.t.master.get(first["url"]), 404)
    problem(await s.t.master.get(second["url"]), 404)
    assert files_on_disk(s.h) == []
    deleted = [e for e in await events(s.t.director, s.rid) if e["kind"] == "file_deleted"]
    assert [(e["actor_id"], e["data"]["file_id"]) for e in deleted] == [
        (await me(s.t.admin), first["id"]),
        (await me(s.t.director), second["id"]),
    ]


async def test_the_uploader_deletes_their_own_file(s: Scene, stored: dict[str, Any]) -> None:
    own = await uploaded(s.t.master, s.upload_url, jpeg(seed=15), "m.jpg")
    assert (await s.t.master.delete(own["url"])).status_code == 204
    assert [f["id"] for f in (await s.t.director.get(url(s.rid))).json()["files"]] == [stored["id"]]


async def test_others_may_not_delete(s: Scene, stored: dict[str, Any]) -> None:
    callers = {
        "operator": s.t.operator,
        "marketer": s.t.marketer,
        "master": s.t.master,  # reads it, but did not upload it
        "other_master": await s.other("other_master"),
        "outsider_director": await s.other("outsider_director"),
        "anonymous": s.h.client,
    }
    got = {}
    for who, client in callers.items():
        response = await client.delete(stored["url"])
        got[who] = (response.status_code, problem(response, response.status_code)["type"].rsplit("/", 1)[-1])
    assert got == {
        "operator": (403, "forbidden"),
        "marketer": (403, "forbidden"),
        "master": (403, "forbidden"),
        "other_master": (404, "not-found"),
        "outsider_director": (404, "not-found"),
        "anonymous": (401, "unauthenticated"),
    }
    assert (await s.t.director.get(stored["url"])).status_code == 200
    assert len(files_on_disk(s.h)) == 1
    assert [r.deleted_at for r in await file_rows(s.h)] == [None]
    assert [e for e in await events(s.t.director, s.rid) if e["kind"] == "file_deleted"] == []


async def test_transaction_receipts_are_deleted_by_cashiers(s: Scene) -> None:
    tx = await book_transaction(s.t.admin, s.t.city.id)
    receipt = await uploaded(
        s.t.admin, f"{API}/transactions/{tx['id']}/files", png(seed=16), "r.png", "transaction_receipt"
    )
    problem(await s.t.operator.delete(receipt["url"]), 404)
    outsider = await s.other("outsider_director")
    problem(await outsider.delete(receipt["url"]), 404)
    assert (await s.t.director.delete(receipt["url"])).status_code == 204
    assert (await s.t.admin.get(f"{API}/transactions/{tx['id']}")).json()["files"] == []
    assert files_on_disk(s.h) == []
