"""Attachment names as the provider writes them (fixtures/mango/recording_email)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from leadflow.recordings.names import parse

FIXTURE = json.loads(
    (Path(__file__).parents[1] / "telephony/fixtures/mango/recording_email/attachment_names.json").read_text()
)


@pytest.mark.parametrize("example", FIXTURE["examples"], ids=lambda e: e["filename"])
def test_documented_examples(example: dict[str, dict[str, str]]) -> None:
    parsed = parse(str(example["filename"]), "Europe/Moscow")
    assert parsed is not None
    expect = example["expect"]
    local = dt.datetime.fromisoformat(expect["started_local"]).replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert parsed.started_at == local.astimezone(dt.UTC)
    assert parsed.caller == expect["caller"]
    assert parsed.line == expect["line"]


@pytest.mark.parametrize(
    ("name", "caller", "line"),
    [
        ("2025-07-15__11-03-07__79031112233__79584440011.mp3", "79031112233", "79584440011"),
        ("2025-07-15__11-03-07__79031112233__Registratura_1.mp3", "79031112233", "Registratura_1"),
        ("2025-07-15__11-03-07__Operator_101__79031112233.mp3", "79031112233", "Operator_101"),
        ("2025.07.15__11-03-07__+79031112233__79584440011.mp3", "79031112233", "79584440011"),
        ("2026-10-07__12-19-24__79084642037__Регистратура_1.mp3", "79084642037", "Регистратура_1"),
        ("2025.07.15__11-03-07__89031112233__84951111111.WAV", "79031112233", "74951111111"),
    ],
)
def test_variants(name: str, caller: str, line: str) -> None:
    parsed = parse(name, "Europe/Moscow")
    assert parsed is not None
    assert (parsed.caller, parsed.line) == (caller, line)


def test_time_zone_setting_is_honoured() -> None:
    name = "2025.01.15__11-03-07__79031112233__79584440011.mp3"
    moscow, novosibirsk = parse(name, "Europe/Moscow"), parse(name, "Asia/Novosibirsk")
    assert moscow is not None and novosibirsk is not None
    assert moscow.started_at == dt.datetime(2025, 1, 15, 8, 3, 7, tzinfo=dt.UTC)
    assert moscow.started_at - novosibirsk.started_at == dt.timedelta(hours=4)


@pytest.mark.parametrize(
    "name",
    [
        "recording.mp3",
        "2025.07.15__11-03-07__79031112233__79584440011.txt",
        "2025.07.15__11-03-07__79031112233__79584440011",
        "2025.13.15__11-03-07__79031112233__79584440011.mp3",
        "2025.07.15__25-03-07__79031112233__79584440011.mp3",
        "1999.07.15__11-03-07__79031112233__79584440011.mp3",
        "2025.07.15__11-03-07__Reception__Operator.mp3",
        "2025.07.15__11-03-07__../../etc__passwd.mp3",
        "",
    ],
)
def test_names_that_are_not_the_providers(name: str) -> None:
    assert parse(name, "Europe/Moscow") is None
