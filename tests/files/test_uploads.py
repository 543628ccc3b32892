"""Uploads (SPEC §7, §5 Files): who may upload to a request or a transaction, the stored file's shape, the types
sniffed from the bytes and the extension that must agree (415), the size limit (413), names that are not bare names
(422), retried uploads that do not duplicate, and where the bytes land (a generated key, never the client's name).

Tables of cases share one scene per test (a request costs a dozen API calls); each compares the whole table of
answers at once, so a failure shows every case that went wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

import pytest

from tests.conftest import Harness, error_fields, problem
from tests.files.helpers import (
    API,
    FILE_FIELDS,
    FILES,
    Scene,
    book_transaction,
    delete_request,
    exe,
    file_rows,
    files_on_disk,
    gif,
    jpeg,
    log_rows,
    me,
    padded_png,
    pdf,
    png,
    raw_upload,
    scene,
    temp_leftovers,
    upload,
    uploaded,
    webp,
)
from tests.requests.helpers import events, url


@pytest.fixture
async def s(h: Harness) -> Scene:
    return await scene(h)


async def assert_nothing_stored(s: Scene) -> None:
    assert await file_rows(s.h) == []
    assert files_on_disk(s.h) == []
    assert temp_leftovers(s.h) == []
    assert [e for e in await events(s.t.director, s.rid) if e["kind"].startswith("file_")] == []


def answer(response: Any) -> tuple[int, str]:
    """The status and the problem type's last part (or ``ok``), to compare tables of answers at once."""
    if response.status_code < 300:
        return response.status_code, "ok"
    return response.status_code, problem(response, response.status_code)["type"].rsplit("/", 1)[-1]


# The stored file ---------------------------------------------------------------------------------------------------
async def test_upload_answers_201_with_the_stored_file(s: Scene) -> None:
    data = png(2, 2, seed=1)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    response = await upload(s.t.director, s.upload_url, data, "БСО 17.png", "bso")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == FILE_FIELDS
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert (body["kind"], body["original_name"], body["content_type"]) == ("bso", "БСО 17.png", "image/png")
    assert (body["size"], body["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert body["uploaded_by_id"] == await me(s.t.director)
    assert body["url"] == f"{FILES}/{body['id']}"
    assert body["uploaded_at"].endswith("Z")
    uploaded_at = dt.datetime.fromisoformat(body["uploaded_at"].replace("Z", "+00:00"))
    assert before <= uploaded_at <= dt.datetime.now(dt.UTC)

    [row] = await file_rows(s.h)
    assert (row.id, row.request_id, row.transaction_id, row.recording_id) == (body["id"], s.rid, None, None)
    assert (row.size, row.sha256, row.content_type, row.deleted_at) == (len(data), body["sha256"], "image/png", None)
    assert row.storage_key == f"bso/{uploaded_at:%Y/%m}/{body['id']}"
    [on_disk] = files_on_disk(s.h)
    assert on_disk == s.h.settings.data_dir / "files" / row.storage_key
    assert on_disk.read_bytes() == data
    assert temp_leftovers(s.h) == []
    added = [e for e in await events(s.t.director, s.rid) if e["kind"] == "file_added"]
    assert [(e["actor_id"], e["data"]) for e in added] == [
        (body["uploaded_by_id"], {"file_id": body["id"], "kind": "bso"})
    ]


ALLOWED = {
    "receipt.png": (png(seed=40), "image/png"),
    "RECEIPT.PNG": (png(seed=41), "image/png"),
    "receipt.jpg": (jpeg(seed=42), "image/jpeg"),
    "receipt.JPEG": (jpeg(seed=43), "image/jpeg"),
    "receipt.webp": (webp(seed=44), "image/webp"),
    "receipt.pdf": (pdf("45"), "application/pdf"),
}


async def test_every_allowed_type_is_stored_with_the_type_its_bytes_show(s: Scene) -> None:
    stored: dict[str, tuple[int, str | None]] = {}
    for name, (data, _) in ALLOWED.items():
        # The type the client declares is ignored: the bytes decide.
        response = await s.t.master.post(
            s.upload_url, files={"file": (name, data, "text/html")}, data={"kind": "expense_receipt"}
        )
        stored[name] = (response.status_code, response.json().get("content_type"))
        if response.status_code == 201:
            download = await s.t.director.get(response.json()["url"])
            assert (download.content, download.headers["content-type"]) == (data, ALLOWED[name][1]), name
    assert stored == {name: (201, mime) for name, (_, mime) in ALLOWED.items()}
    assert {r.kind for r in await file_rows(s.h)} == {"expense_receipt"}
    assert len(files_on_disk(s.h)) == len(ALLOWED)


async def test_the_same_bytes_again_return_the_first_file(s: Scene) -> None:
    data = png(seed=2)
    first = await uploaded(s.t.director, s.upload_url, data, "one.png")
    again = await upload(s.t.master, s.upload_url, data, "two.png")
    assert again.status_code == 200, again.text
    assert again.json() == first
    assert len(await file_rows(s.h)) == 1 and len(files_on_disk(s.h)) == 1
    added = [e for e in await events(s.t.director, s.rid) if e["kind"] == "file_added"]
    assert [e["data"] for e in added] == [{"file_id": first["id"], "kind": "bso"}]
    assert [f["id"] for f in (await s.t.director.get(url(s.rid))).json()["files"]] == [first["id"]]


async def test_the_same_bytes_as_another_kind_or_for_another_request_are_new_files(s: Scene) -> None:
    data = pdf("same")
    first = await uploaded(s.t.director, s.upload_url, data, "a.pdf", "bso")
    as_receipt = await uploaded(s.t.director, s.upload_url, data, "a.pdf", "expense_receipt")
    other = await s.t.director.post(f"{API}/requests", json={"city_id": s.t.city.id, "client_phone": "79161234567"})
    assert other.status_code == 201, other.text
    elsewhere = await uploaded(s.t.director, f"{API}/requests/{other.json()['id']}/files", data, "a.pdf", "bso")
    assert len({first["id"], as_receipt["id"], elsewhere["id"]}) == 3
    assert {r.sha256 for r in await file_rows(s.h)} == {hashlib.sha256(data).hexdigest()}
    assert len(files_on_disk(s.h)) == 3


# Types that are refused --------------------------------------------------------------------------------------------
REFUSED_TYPES = {
    "receipt.pdf": png(),  # a PNG that says it is a PDF
    "scan.png": pdf(),
    "photo.png": jpeg(),
    "x.png": b"just some text, not an image\n",
    "photo.jpg": exe(),  # a Windows executable dressed as a photo
    "anim.gif": gif(),  # an image, but not a type a BSO takes
    "receipt": png(),  # no extension at all
    "receipt.png.exe": png(),
    "x.svg": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
    "call.mp3": b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\x00" * 64,  # audio is for recordings, not a BSO
}


async def test_content_and_name_must_agree_on_an_allowed_type(s: Scene) -> None:
    answers = {
        name: answer(await upload(s.t.director, s.upload_url, data, name)) for name, data in REFUSED_TYPES.items()
    }
    assert answers == dict.fromkeys(REFUSED_TYPES, (415, "unsupported-file-type"))
    await assert_nothing_stored(s)


async def test_the_size_limit_is_the_setting_and_nothing_is_left_behind(harness_factory: Any) -> None:
    s = await scene(await harness_factory(upload_max_bytes=2048))
    problem(await upload(s.t.director, s.upload_url, padded_png(2049), "big.png"), 413, "file-too-large")
    await assert_nothing_stored(s)
    exact = await uploaded(s.t.director, s.upload_url, padded_png(2048), "fits.png")
    assert exact["size"] == 2048 and len(files_on_disk(s.h)) == 1


async def test_ten_megabytes_by_default(s: Scene) -> None:
    limit = 10 * 1024 * 1024
    assert s.h.settings.upload_max_bytes == limit
    problem(await upload(s.t.director, s.upload_url, padded_png(limit + 1), "big.png"), 413, "file-too-large")
    await assert_nothing_stored(s)


# Bad forms ---------------------------------------------------------------------------------------------------------
BAD_NAMES = [
    b"../x.png",
    b"a/b.png",
    b"a\\b.png",
    b"/etc/x.png",
    b"..\\..\\x.png",
    b"..",
    b"",
    b"a\x01.png",
    b"a\x1b[31m.png",
    b"a\x7f.png",
    b"a" * 197 + b".png",  # 201 characters; 200 is the most
]


async def test_names_with_a_path_control_characters_or_no_name_are_422(s: Scene) -> None:
    # Written by hand: httpx would percent-encode control characters before they reach the server.
    answers = {name: await raw_upload(s.t.director, s.upload_url, name, png()) for name in BAD_NAMES}
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(BAD_NAMES, 422)
    assert {name: tuple(error_fields(r)) for name, r in answers.items()} == dict.fromkeys(BAD_NAMES, ("file",))
    await assert_nothing_stored(s)
    longest = await uploaded(s.t.director, s.upload_url, png(), "a" * 196 + ".png")
    assert longest["original_name"] == "a" * 196 + ".png"


async def test_a_windows_full_path_is_cut_to_its_last_part_by_the_form_parser(s: Scene) -> None:
    """Old browsers send ``C:\\dir\\x.png``; the multipart parser keeps only ``x.png`` before the service sees it.
    The path is dropped, not refused; either way it reaches no filesystem."""
    body = (await raw_upload(s.t.director, s.upload_url, b"C:\\temp\\x.png", png())).json()
    assert body["original_name"] == "x.png"
    [row] = await file_rows(s.h)
    assert row.original_name == "x.png" and row.storage_key.endswith("/" + body["id"])


async def test_an_empty_file_is_422(s: Scene) -> None:
    assert error_fields(problem(await upload(s.t.director, s.upload_url, b"", "empty.png"), 422)) == ["file"]
    await assert_nothing_stored(s)


BAD_FORMS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "no file": ({"data": {"kind": "bso"}}, ["file"]),
    "no kind": ({"files": {"file": ("a.png", png(), "image/png")}}, ["kind"]),
    "recording": ({"files": {"file": ("a.png", png(), "image/png")}, "data": {"kind": "recording"}}, ["kind"]),
    "tx kind": ({"files": {"file": ("a.png", png(), "image/png")}, "data": {"kind": "transaction_receipt"}}, ["kind"]),
    "BSO": ({"files": {"file": ("a.png", png(), "image/png")}, "data": {"kind": "BSO"}}, ["kind"]),
    "other field": ({"files": {"other": ("a.png", png(), "image/png")}, "data": {"kind": "nope"}}, ["file", "kind"]),
    "text file": ({"data": {"file": "not a file", "kind": "bso"}}, ["file"]),
    "json": ({"json": {"file": "aGVsbG8=", "kind": "bso"}}, ["file", "kind"]),  # not multipart: nothing is read
}


async def test_missing_file_or_bad_kind_is_422(s: Scene) -> None:
    fields = {}
    for case, (form, _) in BAD_FORMS.items():
        response = await s.t.director.post(s.upload_url, **form)
        fields[case] = (response.status_code, error_fields(response))
    assert fields == {case: (422, expected) for case, (_, expected) in BAD_FORMS.items()}
    await assert_nothing_stored(s)


# Who uploads to a request ------------------------------------------------------------------------------------------
async def test_who_uploads_to_a_request(s: Scene) -> None:
    callers = {
        "admin": s.t.admin,
        "director": s.t.director,
        "master": s.t.master,
        "operator": s.t.operator,
        "marketer": s.t.marketer,
        "other_master": await s.other("other_master"),
        "outsider_director": await s.other("outsider_director"),
        "outsider_operator": await s.other("outsider_operator"),
        "anonymous": s.h.client,
    }
    answers = {
        who: answer(await upload(client, s.upload_url, jpeg(seed=n), f"{who}.jpg"))
        for n, (who, client) in enumerate(callers.items())
    }
    assert answers == {
        "admin": (201, "ok"),
        "director": (201, "ok"),
        "master": (201, "ok"),
        "operator": (403, "forbidden"),
        "marketer": (403, "forbidden"),
        "other_master": (404, "not-found"),
        "outsider_director": (404, "not-found"),
        "outsider_operator": (403, "forbidden"),  # a role that may never upload: 403 wherever the request is
        "anonymous": (401, "unauthenticated"),
    }
    uploaders = [await me(s.t.admin), await me(s.t.director), s.t.master_id]
    files = (await s.t.director.get(url(s.rid))).json()["files"]
    assert [(f["original_name"], f["uploaded_by_id"]) for f in files] == list(
        zip(["admin.jpg", "director.jpg", "master.jpg"], uploaders, strict=True)
    )
    assert len(files_on_disk(s.h)) == 3


async def test_uploads_to_unknown_or_deleted_requests_are_404(s: Scene) -> None:
    problem(await upload(s.t.admin, f"{API}/requests/999999/files", png()), 404)
    await delete_request(s.t.admin, s.rid)
    problem(await upload(s.t.admin, s.upload_url, png()), 404)
    assert await file_rows(s.h) == [] and files_on_disk(s.h) == []


# Where the bytes go ------------------------------------------------------------------------------------------------
NAMES = ["evil..png", "Чек №1.png", "..png", "x.png;rm -rf ~.png", " 'q' <b>.png", "%2e%2e%2fx.png", "CON.png"]


async def test_the_clients_name_never_becomes_a_path(s: Scene) -> None:
    root = s.h.settings.data_dir / "files"
    for n, name in enumerate(NAMES):
        data = png(seed=100 + n)
        body = await uploaded(s.t.director, s.upload_url, data, name)
        assert body["original_name"] == name.strip()
        today = dt.datetime.now(dt.UTC)
        disk = root / "bso" / f"{today:%Y}" / f"{today:%m}" / body["id"]
        assert disk.read_bytes() == data, name
    rows = await file_rows(s.h)
    assert [r.original_name for r in rows] == [n.strip() for n in NAMES]
    assert sorted(p.relative_to(root).as_posix() for p in files_on_disk(s.h)) == sorted(r.storage_key for r in rows)
    assert all(r.storage_key.rsplit("/", 1)[1] == r.id for r in rows)
    # No file or directory anywhere under the data directory carries a client's name.
    assert [p for p in s.h.settings.data_dir.rglob("*") if any(n.strip() in p.name for n in NAMES)] == []
    assert temp_leftovers(s.h) == []


async def test_receipts_land_under_their_kind(s: Scene) -> None:
    body = await uploaded(s.t.director, s.upload_url, pdf("exp"), "exp.pdf", "expense_receipt")
    [on_disk] = files_on_disk(s.h)
    assert on_disk.relative_to(s.h.settings.data_dir / "files").parts[0] == "expense_receipt"
    assert on_disk.name == body["id"]


async def test_storage_url_file_scheme_stores_under_that_directory(harness_factory: Any, tmp_path: Any) -> None:
    root = tmp_path / "elsewhere"
    s = await scene(await harness_factory(storage_url=f"file://{root}"))
    body = await uploaded(s.t.director, s.upload_url, png(seed=4), "x.png")
    assert files_on_disk(s.h) == []
    [stored] = [p for p in root.rglob("*") if p.is_file()]
    assert stored.relative_to(root).parts[0] == "bso" and stored.name == body["id"]
    assert (await s.t.director.get(body["url"])).content == png(seed=4)
    assert (await s.t.director.delete(body["url"])).status_code == 204
    assert [p for p in root.rglob("*") if p.is_file()] == []


# Transactions ------------------------------------------------------------------------------------------------------
async def test_cashiers_upload_transaction_receipts(s: Scene) -> None:
    tx = await book_transaction(s.t.admin, s.t.city.id)
    tx_files = f"{API}/transactions/{tx['id']}/files"
    response = await s.t.director.post(tx_files, files={"file": ("чек.pdf", pdf("tx"), "application/pdf")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["kind"], body["content_type"], body["original_name"]) == (
        "transaction_receipt",
        "application/pdf",
        "чек.pdf",
    )
    assert body["uploaded_by_id"] == await me(s.t.director)
    explicit = await uploaded(s.t.admin, tx_files, png(seed=5), "чек.png", "transaction_receipt")
    [first, second] = await file_rows(s.h)
    assert (first.transaction_id, first.request_id, second.transaction_id) == (tx["id"], None, tx["id"])
    assert {p.relative_to(s.h.settings.data_dir / "files").parts[0] for p in files_on_disk(s.h)} == {
        "transaction_receipt"
    }
    detail = (await s.t.director.get(f"{API}/transactions/{tx['id']}")).json()
    assert detail["files"] == [body, explicit]
    listed = (await s.t.director.get(f"{API}/transactions")).json()["items"]
    assert [i["id"] for i in listed] == [tx["id"]] and "files" not in listed[0]
    again = await upload(s.t.admin, tx_files, pdf("tx"), "again.pdf", None)
    assert (again.status_code, again.json()) == (200, body)
    problem(await upload(s.t.director, tx_files, png(), "a.png", "bso"), 422)
    problem(await upload(s.t.director, tx_files, png(), "a.pdf", "transaction_receipt"), 415, "unsupported-file-type")
    assert len(await file_rows(s.h)) == 2


async def test_who_uploads_to_a_transaction(s: Scene) -> None:
    tx = await book_transaction(s.t.admin, s.t.city.id)
    callers = {
        "operator": s.t.operator,
        "marketer": s.t.marketer,
        "master": s.t.master,
        "outsider_director": await s.other("outsider_director"),
        "anonymous": s.h.client,
    }
    tx_files = f"{API}/transactions/{tx['id']}/files"
    answers = {who: answer(await upload(client, tx_files, png(), "a.png", None)) for who, client in callers.items()}
    answers["unknown"] = answer(await upload(s.t.admin, f"{API}/transactions/999999/files", png(), "a.png", None))
    assert answers == {
        "operator": (403, "forbidden"),
        "marketer": (403, "forbidden"),
        "master": (403, "forbidden"),
        "outsider_director": (404, "not-found"),
        "anonymous": (401, "unauthenticated"),
        "unknown": (404, "not-found"),
    }
    assert await file_rows(s.h) == [] and files_on_disk(s.h) == []
    assert [(r.action, r.result) for r in await log_rows(s.h)] == [
        ("denied", "upload:403"),
        ("denied", "upload:403"),
        ("denied", "upload:403"),
        ("denied", "upload:404"),
        ("denied", "upload:401"),
        ("denied", "upload:404"),
    ]


# Idempotency-Key (SPEC §4: uploads included) -----------------------------------------------------------------------
async def test_an_upload_repeated_byte_for_byte_with_its_key_replays_the_first_answer(s: Scene) -> None:
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}
    first = await raw_upload(s.t.master, s.upload_url, b"bso.png", png(seed=31), headers=key)
    assert first.status_code == 201, first.text
    again = await raw_upload(s.t.master, s.upload_url, b"bso.png", png(seed=31), headers=key)
    assert (again.status_code, again.json()) == (201, first.json())
    problem(await raw_upload(s.t.master, s.upload_url, b"bso.png", png(seed=32), headers=key), 422)
    assert [r.id for r in await file_rows(s.h)] == [first.json()["id"]]


async def test_a_retried_upload_with_the_same_key_and_file_replays_the_first_answer(s: Scene) -> None:
    """Every client (browsers, httpx) draws a new multipart boundary per request: a retry is the same upload."""
    key = {"Idempotency-Key": f"upload-{uuid.uuid4()}"}
    attempts = [
        await raw_upload(s.t.master, s.upload_url, b"bso.png", png(seed=33), boundary=f"----Boundary{n}", headers=key)
        for n in ("A1b2C3", "X9y8Z7")
    ]
    assert attempts[0].status_code == 201, attempts[0].text
    assert [r.id for r in await file_rows(s.h)] == [attempts[0].json()["id"]]
    assert (attempts[1].status_code, attempts[1].json()) == (201, attempts[0].json())
    another = await upload(s.t.master, s.upload_url, png(seed=34), "bso.png", headers=key)
    assert error_fields(problem(another, 422)) == ["Idempotency-Key"]
    assert len(await file_rows(s.h)) == 1
