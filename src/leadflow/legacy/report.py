"""The import report: counts per table, the mappings made by guess, and every row that was changed or skipped.

It is printed as rich tables and written as JSON (``--report FILE``, default ``DATA_DIR/imports/``). Every entry
names the legacy table and id, so that an administrator can find the row in the old database.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class TableCount:
    read: int = 0
    imported: int = 0
    already: int = 0  # imported by an earlier run (found in the map)
    skipped: int = 0


@dataclass
class Report:
    source: str
    dry_run: bool
    started_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    finished_at: str | None = None
    tables: dict[str, TableCount] = field(default_factory=dict)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    login_clashes: list[dict[str, Any]] = field(default_factory=list)
    status_mappings: list[dict[str, Any]] = field(default_factory=list)  # filled from _statuses at the end
    campaign_phone_clashes: list[dict[str, Any]] = field(default_factory=list)
    money_differences: list[dict[str, Any]] = field(default_factory=list)
    handovers_linked: list[dict[str, Any]] = field(default_factory=list)
    # Done requests of this run with a positive handover and no `Приход по заявке` income to link: no income is
    # invented (the old cash desk is the record of the money received); a director books or corrects it.
    done_without_handover: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)  # other changes: a guessed type kind, a dropped date
    files_missing: list[dict[str, Any]] = field(default_factory=list)
    stopped: dict[str, Any] | None = None
    _statuses: Counter[tuple[str, str, bool]] = field(default_factory=Counter)

    def table(self, name: str) -> TableCount:
        return self.tables.setdefault(name, TableCount())

    def skip(self, table: str, legacy_id: int | None, reason: str) -> None:
        self.table(table).skipped += 1
        self.skipped.append({"table": table, "legacy_id": legacy_id, "reason": reason})

    def note(self, table: str, legacy_id: int | None, what: str) -> None:
        self.notes.append({"table": table, "legacy_id": legacy_id, "note": what})

    def status(self, value: str | None, code: str, guessed: bool) -> None:
        self._statuses[(value if value is not None else "", code, guessed)] += 1

    def finish(self) -> None:
        self.finished_at = dt.datetime.now(dt.UTC).isoformat()
        self.status_mappings = [
            {"value": value, "code": code, "guessed": guessed, "count": n}
            for (value, code, guessed), n in sorted(self._statuses.items(), key=lambda item: (-item[1], item[0]))
        ]

    @property
    def guessed_statuses(self) -> list[dict[str, Any]]:
        return [m for m in self.status_mappings if m["guessed"]]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("_statuses")
        data["tables"] = {name: asdict(count) for name, count in self.tables.items()}
        return data

    def default_path(self, data_dir: Path) -> Path:
        """``DATA_DIR/imports/leadschem-<UTC start time>[-dry-run].json``."""
        stamp = dt.datetime.fromisoformat(self.started_at).strftime("%Y%m%dT%H%M%SZ")
        return data_dir / "imports" / f"leadschem-{stamp}{'-dry-run' if self.dry_run else ''}.json"

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.as_dict(), ensure_ascii=False, indent=2, default=_jsonable)
        path.write_text(text + "\n", encoding="utf-8")

    def render(self, console: Console, limit: int = 20) -> None:
        """The report as rich tables: counts, then each list (its first ``limit`` entries; the JSON has them all)."""
        counts = Table(
            title=f"LeadSchem import from {self.source}" + (" (dry run: nothing kept)" if self.dry_run else "")
        )
        for column in ("table", "read", "imported", "already imported", "skipped"):
            counts.add_column(column, justify="left" if column == "table" else "right")
        for name, c in self.tables.items():
            counts.add_row(name, str(c.read), str(c.imported), str(c.already), str(c.skipped))
        console.print(counts)
        sections: list[tuple[str, list[dict[str, Any]]]] = [
            ("Statuses mapped by guess", self.guessed_statuses),
            ("Login clashes (suffixed)", self.login_clashes),
            ("Campaigns sharing a number (newest active)", self.campaign_phone_clashes),
            ("Money recomputed by the rule (differences)", self.money_differences),
            ("Incomes linked to their request as its handover", self.handovers_linked),
            ("Done requests without a handover income", self.done_without_handover),
            ("Files missing under --media", self.files_missing),
            ("Skipped rows", self.skipped),
            ("Other changes", self.notes),
        ]
        for title, rows in sections:
            if not rows:
                continue
            table = Table(title=f"{title}: {len(rows)}")
            keys = list(rows[0])
            for key in keys:
                table.add_column(key)
            for row in rows[:limit]:
                table.add_row(*(_cell(row.get(k)) for k in keys))
            if len(rows) > limit:
                table.caption = f"… and {len(rows) - limit} more in the JSON report"
            console.print(table)
        if self.stopped:
            console.print(
                f"[red]stopped[/red] at {self.stopped['table']} (legacy id {self.stopped['legacy_id']}): "
                f"{self.stopped['error']}; the tables before it are imported, this one is rolled back"
            )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return str(value)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)
