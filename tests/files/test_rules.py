"""The owners' rules, registered with files at app build (``files.access``): files reads nothing of the caller but
``id`` and ``is_admin``, and a file whose owner kind has no rule is nobody's to read (404, logged)."""

from __future__ import annotations

import dataclasses

import pytest

from leadflow.files.access import RECORDING, REQUEST, TRANSACTION, FileRules
from tests.conftest import Harness, problem
from tests.files.helpers import ACCESS_LOG, API, Scene, log_rows, png, scene, uploaded


@pytest.fixture
async def s(h: Harness) -> Scene:
    return await scene(h)


def test_the_app_registers_every_owner_kind(h: Harness) -> None:
    rules = h.app.state.file_rules
    assert isinstance(rules, FileRules)
    assert set(rules.owners) == {REQUEST, TRANSACTION, RECORDING}


async def test_a_file_whose_owner_kind_has_no_rule_is_404_and_logged(s: Scene) -> None:
    stored = await uploaded(s.t.director, s.upload_url, png(seed=41))
    rules = s.h.app.state.file_rules
    s.h.app.state.file_rules = dataclasses.replace(
        rules, owners={kind: rule for kind, rule in rules.owners.items() if kind != REQUEST}
    )
    for client in (s.t.director, s.t.admin):
        problem(await client.get(stored["url"]), 404)
    problem(await s.t.admin.delete(stored["url"]), 404)
    assert [(r.file_id, r.action, r.result) for r in await log_rows(s.h)] == [
        (stored["id"], "upload", "ok"),
        (stored["id"], "denied", "download:404"),
        (stored["id"], "denied", "download:404"),
        (stored["id"], "denied", "delete:404"),
    ]
    s.h.app.state.file_rules = rules
    assert (await s.t.admin.get(stored["url"])).status_code == 200


async def test_the_access_log_refuses_non_admins_as_every_admin_route_does(s: Scene) -> None:
    ours = problem(await s.t.director.get(ACCESS_LOG), 403)
    theirs = problem(await s.t.director.get(f"{API}/settings"), 403)
    assert {k: ours[k] for k in ("type", "title", "status", "detail")} == {
        k: theirs[k] for k in ("type", "title", "status", "detail")
    }
    assert await log_rows(s.h) == []  # as before: the log's own refusals are not file accesses
