"""Eight uploads of the same bytes to one request at once make one file: the database decides (a unique index over
the owner, the kind and the SHA-256 of live files), and the uploads that lost answer the winner's file."""

from __future__ import annotations

import asyncio

from tests.conftest import Harness
from tests.files.helpers import file_rows, files_on_disk, log_rows, padded_png, scene, upload


async def test_eight_concurrent_uploads_of_the_same_bytes_make_one_file(h: Harness) -> None:
    s = await scene(h)
    data = padded_png(4_000_000)  # big enough that every upload is still storing when the others look
    answers = await asyncio.gather(*(upload(s.t.director, s.upload_url, data) for _ in range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201], [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    [row] = await file_rows(h)
    assert row.id == answers[0].json()["id"] and row.deleted_at is None
    assert len(files_on_disk(h)) == 1  # the staged blobs that lost were deleted
    uploads = [r.result for r in await log_rows(h) if r.action == "upload"]
    assert sorted(uploads) == ["duplicate"] * 7 + ["ok"]
    detail = await s.t.director.get(f"/api/v1/requests/{s.rid}")
    assert [f["id"] for f in detail.json()["files"]] == [row.id]
