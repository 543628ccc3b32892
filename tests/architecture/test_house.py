"""The house drawn in docs/architecture.md is the one `make lint` enforces: the diagram is rendered from the
import-linter contracts in pyproject.toml, and every package of the service has a layer in them."""

from __future__ import annotations

import pkgutil
import re
import tomllib
from pathlib import Path
from typing import Any

import leadflow

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
BEGIN, END = "<!-- house:begin (rendered from pyproject.toml by tests/architecture) -->", "<!-- house:end -->"
# Not layers of the house: the entry point, the schema aggregate Alembic reads, and the migrations themselves.
OUTSIDE = {"__main__", "models", "migrations"}


def contracts() -> list[dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def contract(contract_id: str) -> dict[str, Any]:
    return next(c for c in contracts() if c["id"] == contract_id)


def layers() -> list[list[str]]:
    return [
        [name.strip().removeprefix("leadflow.") for name in layer.split("|")] for layer in contract("layers")["layers"]
    ]


def render() -> str:
    """The diagram and the list of allowed exceptions, as they stand in docs/architecture.md."""
    rows = layers()
    lines = [BEGIN, "```mermaid", "flowchart TD"]
    lines += [f'    L{i}["{" · ".join(names)}"]' for i, names in enumerate(rows)]
    lines += [f"    L{i} --> L{i + 1}" for i in range(len(rows) - 1)]
    lines += ["```", "", "Imports that climb a layer, each allowed by name in the contracts:", ""]
    lines += [f"- `{rule}`" for rule in contract("layers").get("ignore_imports", [])]
    lines.append(END)
    return "\n".join(lines)


def test_the_diagram_is_the_contract() -> None:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), text, flags=re.S)
    assert match is not None, f"docs/architecture.md lost its house block; paste:\n{render()}"
    assert match.group(0) == render(), (
        f"the house in docs/architecture.md is stale; replace its block with:\n{render()}"
    )


def test_every_package_has_a_layer() -> None:
    placed = {name for row in layers() for name in row}
    packages = {module.name for module in pkgutil.iter_modules(leadflow.__path__)} - OUTSIDE
    assert packages - placed == set(), "place each new package in a layer of the import contracts"
    assert placed - packages == set(), "a layer names a package that does not exist"


def test_the_contracts_guard_what_the_docs_promise() -> None:
    ids = {c["id"] for c in contracts()}
    assert {"layers", "platform-leaf", "files-leaf", "cash-not-requests", "no-http-below-routers", "no-cycles"} <= ids
    assert contract("no-cycles")["type"] == "acyclic_siblings"
    assert contract("no-cycles")["ancestors"] == ["leadflow"]
