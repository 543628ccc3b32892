"""Static files under content-hashed paths: ``/static/<hash>/<path>``, cached for a year (a new file is a new URL),
exempt from the rate limit, served from this package only (no CDN: the console works on a LAN without internet)."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

STATIC = Path(__file__).parent / "static"
PREFIX = "/static"
IMMUTABLE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json"}


@lru_cache(maxsize=256)
def _digest(relative: str) -> str:
    return hashlib.sha256((STATIC / relative).read_bytes()).hexdigest()[:12]


def url(relative: str) -> str:
    """The URL of a static file; its hash changes whenever its content does."""
    return f"{PREFIX}/{_digest(relative)}/{relative}"


def find(digest: str, relative: str) -> tuple[bytes, str] | None:
    """The file's bytes and content type when ``relative`` names a file of the package whose hash is ``digest``."""
    path = (STATIC / relative).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file():
        return None
    if _digest(str(path.relative_to(STATIC.resolve()))) != digest:
        return None
    kind = TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return path.read_bytes(), kind
