"""Which committed writes make cached reports stale (placeholder until the taggers move here)."""

from __future__ import annotations


def register_cache_taggers() -> None:
    from leadflow.reports import service  # noqa: F401 - its import registers the taggers
