"""Generated truth: the transition table in docs/requests.md is the one the code enforces."""

from __future__ import annotations

from pathlib import Path

from leadflow.requests.workflow import markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "requests.md"


def test_docs_show_the_transition_table_of_the_code() -> None:
    assert markdown_table() in DOCS.read_text(encoding="utf-8")
