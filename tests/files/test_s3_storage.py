"""The S3 storage backend (SPEC §7: "S3-compatible object storage when configured") against a real S3 server: moto's
standalone server on loopback (``tests/support/s3.py``). Upload, download with ranges, the duplicate rule and delete
go through the API; the bucket itself is read with boto3 to see what really landed there.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

import pytest

from tests.conftest import Harness, problem
from tests.files.helpers import (
    API,
    Scene,
    book_transaction,
    file_rows,
    files_on_disk,
    log_rows,
    pdf,
    png,
    scene,
    temp_leftovers,
    upload,
    uploaded,
)
from tests.requests.helpers import events, url
from tests.support.s3 import S3Endpoint

PREFIX = "leadflow"


def storage_url(s3: S3Endpoint, endpoint: str | None = None) -> str:
    return (
        f"s3://{s3.access_key}:{s3.secret_key}@{s3.bucket}/{PREFIX}"
        f"?endpoint_url={endpoint or s3.url}&region={s3.region}"
    )


def bucket_keys(s3: S3Endpoint) -> list[str]:
    answer = s3.boto3_client().list_objects_v2(Bucket=s3.bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


@pytest.fixture
async def s(harness_factory: Any, s3: S3Endpoint) -> Scene:
    return await scene(await harness_factory(storage_url=storage_url(s3)))


async def test_upload_download_range_and_delete_through_s3(s: Scene, s3: S3Endpoint) -> None:
    data = png(8, 8, seed=51)
    body = await uploaded(s.t.master, s.upload_url, data, "Чек №1.png")
    today = dt.datetime.now(dt.UTC)
    key = f"{PREFIX}/bso/{today:%Y}/{today:%m}/{body['id']}"
    assert bucket_keys(s3) == [key]
    stored = s3.boto3_client().get_object(Bucket=s3.bucket, Key=key)
    assert stored["Body"].read() == data
    assert stored["ContentType"] == "image/png"
    [row] = await file_rows(s.h)
    assert row.storage_key == f"bso/{today:%Y}/{today:%m}/{body['id']}" and row.original_name == "Чек №1.png"
    assert files_on_disk(s.h) == [] and temp_leftovers(s.h) == []  # nothing on the local disk

    whole = await s.t.director.get(body["url"])
    assert (whole.status_code, whole.content) == (200, data)
    assert whole.headers["content-type"] == "image/png"
    assert whole.headers["content-length"] == str(len(data))
    assert whole.headers["content-disposition"].startswith("attachment;")
    head = await s.t.director.get(body["url"], headers={"Range": "bytes=0-3"})
    assert (head.status_code, head.content) == (206, data[:4])
    assert head.headers["content-range"] == f"bytes 0-3/{len(data)}"
    tail = await s.t.master.get(body["url"], params={"inline": "1"}, headers={"Range": "bytes=-6"})
    assert (tail.status_code, tail.content) == (206, data[-6:])
    assert tail.headers["content-range"] == f"bytes {len(data) - 6}-{len(data) - 1}/{len(data)}"
    assert tail.headers["content-disposition"].startswith("inline;")
    middle = await s.t.director.get(body["url"], headers={"Range": "bytes=10-20"})
    assert (middle.status_code, middle.content) == (206, data[10:21])
    problem(await s.t.director.get(body["url"], headers={"Range": "bytes=100000-"}), 416, "range-not-satisfiable")

    again = await upload(s.t.director, s.upload_url, data, "again.png")
    assert (again.status_code, again.json()) == (200, body)
    assert bucket_keys(s3) == [key]

    assert (await s.t.master.delete(body["url"])).status_code == 204
    assert bucket_keys(s3) == []
    problem(await s.t.director.get(body["url"]), 404, "not-found")
    assert (await s.t.director.get(url(s.rid))).json()["files"] == []
    assert [e["kind"] for e in await events(s.t.director, s.rid) if e["kind"].startswith("file_")] == [
        "file_added",
        "file_deleted",
    ]
    assert [(r.action, r.result) for r in await log_rows(s.h)] == [
        ("upload", "ok"),
        ("download", "ok"),
        ("download", "ok:0-3"),
        ("view", f"ok:{len(data) - 6}-{len(data) - 1}"),
        ("download", "ok:10-20"),
        ("download", "rejected:416"),
        ("upload", "duplicate"),
        ("delete", "ok"),
        ("denied", "download:404"),
    ]


async def test_refused_uploads_put_nothing_in_the_bucket(harness_factory: Any, s3: S3Endpoint) -> None:
    s = await scene(await harness_factory(storage_url=storage_url(s3), upload_max_bytes=2048))
    problem(await upload(s.t.director, s.upload_url, png(), "receipt.pdf"), 415, "unsupported-file-type")
    problem(await upload(s.t.director, s.upload_url, png(40, 40, seed=1) + b"\x00" * 2048, "big.png"), 413)
    problem(await upload(s.t.operator, s.upload_url, png()), 403)
    assert bucket_keys(s3) == []
    assert await file_rows(s.h) == [] and temp_leftovers(s.h) == []


async def test_transaction_receipts_and_a_second_file_are_separate_objects(s: Scene, s3: S3Endpoint) -> None:
    tx = await book_transaction(s.t.admin, s.t.city.id)
    receipt = await uploaded(
        s.t.director, f"{API}/transactions/{tx['id']}/files", pdf("tx"), "r.pdf", "transaction_receipt"
    )
    bso = await uploaded(s.t.director, s.upload_url, png(seed=52), "b.png")
    keys = bucket_keys(s3)
    assert len(keys) == 2
    assert {k.split("/")[1] for k in keys} == {"transaction_receipt", "bso"}
    assert {k.rsplit("/", 1)[1] for k in keys} == {receipt["id"], bso["id"]}
    assert (await s.t.admin.get(receipt["url"])).content == pdf("tx")
    problem(await s.t.operator.get(receipt["url"]), 404)
    assert (await s.t.admin.delete(receipt["url"])).status_code == 204
    assert [k.rsplit("/", 1)[1] for k in bucket_keys(s3)] == [bso["id"]]


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries a refused connection with back-off; once is enough to see the store is gone."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.usefixtures("no_retries")
async def test_an_unreachable_store_refuses_the_upload_with_503(harness_factory: Any, s3: S3Endpoint) -> None:
    dead = storage_url(s3, endpoint=f"http://127.0.0.1:{closed_port()}")
    s = await scene(await harness_factory(storage_url=dead))
    response = await upload(s.t.director, s.upload_url, png(seed=53), "a.png")
    problem(response, 503, "storage-unavailable")
    assert await file_rows(s.h) == [] and temp_leftovers(s.h) == []
    assert (await s.t.director.get(url(s.rid))).json()["files"] == []
    assert [(r.action, r.result) for r in await log_rows(s.h)] == [("upload", "failed:503")]


@pytest.mark.usefixtures("no_retries")
async def test_an_unreachable_store_answers_downloads_with_503(s: Scene, harness_factory: Any, s3: S3Endpoint) -> None:
    body = await uploaded(s.t.director, s.upload_url, png(seed=54), "a.png")
    # A second app on the same database, whose store has gone away.
    broken: Harness = await harness_factory(storage_url=storage_url(s3, endpoint=f"http://127.0.0.1:{closed_port()}"))
    director = await broken.as_user(await broken.user("director", cities=[s.t.city.id]))
    problem(await director.get(body["url"]), 503, "storage-unavailable")
    assert [(r.action, r.result) for r in await log_rows(s.h)][-1] == ("download", "failed:503")
