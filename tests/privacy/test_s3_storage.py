"""The export and the erasure with the files in S3-compatible object storage (a real moto server on loopback): the
zip streams the objects' bytes, the erasure deletes the objects after its commit, and a store that has gone away
leaves the rows erased and the objects listed as orphans."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest

from tests.conftest import Harness
from tests.files.test_s3_storage import bucket_keys, closed_port, storage_url
from tests.privacy.helpers import PERSONAL, PHONE, World, audit_lines, erase_url, export_url, table_rows, world
from tests.support.s3 import S3Endpoint


@pytest.fixture
async def w(harness_factory: Any, s3: S3Endpoint) -> World:
    return await world(harness_factory, storage_url=storage_url(s3))


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore retries a refused connection with back-off; once is enough to see the store is gone."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")


async def test_zip_export_and_erasure_through_s3(w: World, s3: S3Endpoint) -> None:
    assert len(bucket_keys(s3)) == 3
    answer = await w.admin.get(export_url(PHONE), params={"format": "zip"})
    assert answer.status_code == 200, answer.text
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    document = json.loads(archive.read("data.json"))
    by_kind = {f["kind"]: f["id"] for f in document["files"]}
    held = document["archive"]["files"]
    assert archive.read(held[by_kind["bso"]]) == w.bso
    assert archive.read(held[by_kind["recording"]]) == w.audio

    erased = await w.admin.post(erase_url(PHONE))
    assert erased.status_code == 200, erased.text
    assert erased.json()["files"] == 2 and erased.json()["orphaned_files"] == []
    other = (await w.admin.get(f"/api/v1/requests/{w.other_id}")).json()["files"]
    assert [k.rsplit("/", 1)[1] for k in bucket_keys(s3)] == [other[0]["id"]]


@pytest.mark.usefixtures("no_retries")
async def test_a_store_gone_away_leaves_the_rows_erased_and_lists_the_orphans(
    w: World, harness_factory: Any, s3: S3Endpoint
) -> None:
    exported = (await w.admin.get(export_url(PHONE))).json()
    ids = sorted(f["id"] for f in exported["files"])
    # A second app on the same database, whose store has gone away.
    broken: Harness = await harness_factory(storage_url=storage_url(s3, endpoint=f"http://127.0.0.1:{closed_port()}"))
    admin = await broken.as_user(await broken.user("admin"))
    answer = await admin.post(erase_url(PHONE))
    assert answer.status_code == 200, answer.text
    assert sorted(answer.json()["orphaned_files"]) == ids
    dump = json.dumps(await table_rows(w.h), default=str, ensure_ascii=False)
    assert all(value not in dump for value in PERSONAL)
    [orphans] = await audit_lines(w.h, "personal_data_orphans")
    assert sorted(f["id"] for f in orphans.data["files"]) == ids
    assert len(bucket_keys(s3)) == 3  # the orphans are still there, for an operator to remove
