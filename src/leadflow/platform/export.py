"""CSV exports, shared by the reports and every list (SPEC §4, docs/api.md#csv-export).

UTF-8 with a BOM (so that Excel reads Cyrillic), RFC 4180 quoting with CRLF line ends (Python's csv module), one
header row in Russian or English. A cell holds what the JSON answer holds for that key: money as the two-decimal
string, timestamps as ISO 8601 UTC with ``Z``, null as an empty cell, a list joined with ``", "``, an object as JSON
text. A text cell that a spreadsheet would run as a formula is neutralized (:func:`cell`).

A list is exported by :func:`csv_response`: every matching row, batch by batch as the database streams them, each
batch turned into CSV text in a worker thread, so that neither the rows nor the text of a large export are ever held
whole, and the event loop keeps serving other requests while it runs.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import anyio
from starlette.responses import StreamingResponse

T = TypeVar("T")

# (key in the item's JSON, possibly dotted into a nested object; Russian header; English header)
Column = tuple[str, str, str]

BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# "Plainly a number": digits with an optional leading minus and decimals, as money ("-5.00") and counts are written.
# A leading "+" is not a number here: "+79161234567" is a phone typed as text, and "+1+2" a formula.
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# The OpenAPI of a route that answers CSV beside its JSON model.
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "JSON, or CSV with format=csv."}
}


def language(lang: str | None, accept_language: str | None) -> str:
    """``lang`` when given; else the one of ``ru`` and ``en`` that ``Accept-Language`` prefers (by q, the first on a
    tie); Russian when it names neither, or is absent (SPEC §4: Russian headers by default)."""
    if lang:
        return lang
    best, best_q = "ru", -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in ("ru", "en") and q > max(best_q, 0):  # q=0: "not this one"
            best, best_q = primary, q
    return best


def headers(columns: Sequence[Column], lang: str) -> list[str]:
    return [en if lang == "en" else ru for _, ru, en in columns]


def cell(value: Any) -> str:
    """One value as CSV text. A text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run as a
    formula in a spreadsheet (OWASP "CSV injection"): it gets a leading ``'`` unless it is plainly a number."""
    kind = type(value)
    if kind is str:  # the common cases first: an export writes millions of cells
        text = value
    elif value is None:
        return ""
    elif kind is int:
        return str(value)  # an integer is plainly a number, a negative one too
    elif kind is bool:
        return "true" if value else "false"
    elif isinstance(value, dt.datetime):
        text = value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    elif isinstance(value, list | tuple):
        text = ", ".join(cell(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def pick(item: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (``"master.phone"``) in a JSON-like item; None where a step is missing or null."""
    value: Any = item
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    if "." not in path:
        return lambda item: item.get(path)
    return lambda item: pick(item, path)


def row_writer(columns: Sequence[Column]) -> Callable[[Mapping[str, Any]], list[str]]:
    """A function from an item to its row of cells, the columns' paths resolved once."""
    getters = [_getter(key) for key, _, _ in columns]
    return lambda item: [cell(get(item)) for get in getters]


def row(columns: Sequence[Column], item: Mapping[str, Any]) -> list[str]:
    return row_writer(columns)(item)


def write(rows: Iterable[Sequence[str]]) -> str:
    """Rows as RFC 4180 text: fields with a comma, a quote or a line break quoted, quotes doubled, CRLF after each."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def document(columns: Sequence[Column], lang: str, rows: Iterable[Sequence[str]]) -> bytes:
    """A whole small CSV file (a report): the BOM, the header row, the rows."""
    return (BOM + write([headers(columns, lang), *rows])).encode("utf-8")


def filename(name: str, now: dt.datetime | None = None) -> str:
    """``requests-20261207T183000Z.csv``: the list's name and the UTC moment of the export."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{name}-{moment:%Y%m%dT%H%M%SZ}.csv"


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


async def stream_csv(
    columns: Sequence[Column],
    lang: str,
    batches: AsyncIterator[Sequence[T]],
    shape: Callable[[T], Mapping[str, Any]],
) -> AsyncIterator[bytes]:
    """The BOM and the header, then one chunk of CSV per batch of rows. ``shape`` turns a row into its JSON item (the
    list's own answer model, with the caller's hiding rules); it runs with the CSV writing in a worker thread, one
    batch at a time, so a batch of thousands of rows never holds the event loop."""

    to_row = row_writer(columns)

    def render(batch: Sequence[T]) -> bytes:
        return write(to_row(shape(r)) for r in batch).encode("utf-8")

    yield (BOM + write([headers(columns, lang)])).encode("utf-8")
    try:
        async for batch in batches:
            yield await anyio.to_thread.run_sync(render, batch)
    finally:
        # A client that goes away cancels the response between two batches: close the rows' cursor now, while the
        # request's session is still open, rather than whenever the garbage collector finalizes the generator.
        aclose = getattr(batches, "aclose", None)
        if aclose is not None:
            with anyio.CancelScope(shield=True):
                await aclose()


def csv_response(
    name: str,
    columns: Sequence[Column],
    lang: str,
    batches: AsyncIterator[Sequence[T]],
    shape: Callable[[T], Mapping[str, Any]],
) -> StreamingResponse:
    """A list as a streamed CSV download (``text/csv; charset=utf-8``, an attachment named after the list)."""
    return StreamingResponse(
        stream_csv(columns, lang, batches, shape), media_type=MEDIA_TYPE, headers=attachment(filename(name))
    )
