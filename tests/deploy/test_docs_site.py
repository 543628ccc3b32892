"""The documentation site builds without network (``make docs`` builds it strictly in CI): its scripts are local, the
vendored Mermaid is the file its manifest describes, and every page and decision record is in the navigation."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import yaml

from tests.deploy.support import ROOT

DOCS = ROOT / "docs"
VENDOR = DOCS / "js" / "vendor"


def _mkdocs() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return config


def _nav_files(nav: list[Any]) -> list[str]:
    out: list[str] = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        out.extend(_nav_files(value) if isinstance(value, list) else [value])
    return out


def test_vendored_files_match_their_manifest() -> None:
    manifest: dict[str, dict[str, str]] = json.loads((VENDOR / "manifest.json").read_text())
    assert manifest, "empty manifest"
    for name, entry in manifest.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"], name
        assert entry["version"] and entry["license"] and (VENDOR / entry["license_file"]).is_file()
    listed = {p.name for p in VENDOR.iterdir()} - {"manifest.json"}
    assert listed == set(manifest) | {e["license_file"] for e in manifest.values()}


def test_the_site_loads_nothing_from_the_network() -> None:
    config = _mkdocs()
    assert config["theme"].get("highlightjs") is False  # the theme would fetch highlight.js from a CDN
    for key in ("extra_javascript", "extra_css"):
        for item in config.get(key, []):
            path = item if isinstance(item, str) else item["path"]
            assert "://" not in path and (DOCS / path).is_file(), path
    assert "js/vendor/mermaid.min.js" in config["extra_javascript"]


def test_every_page_is_in_the_navigation() -> None:
    nav = _nav_files(_mkdocs()["nav"])
    assert len(nav) == len(set(nav))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert set(nav) == pages
    for page in ("upgrade.md", "backups.md", "deployment.md"):
        assert page in nav
    records = sorted(p.name for p in (DOCS / "decisions").glob("*.md"))
    numbers = [int(name[:4]) for name in records]
    assert numbers == list(range(1, len(records) + 1))  # numbered in order, none missing
