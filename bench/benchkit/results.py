"""The figures of a run: the verdict of each scenario against SPEC §13, the table (rich), docs/performance.json,
the chart and the generated part of docs/performance.md."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchkit.paced import PacedResult
from benchkit.scenarios import BY_NAME, Spec
from benchkit.wrk import ClosedResult

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass
class Outcome:
    spec: Spec
    closed: ClosedResult | None
    paced: PacedResult | None
    ratio: float | None = None  # of the bare ceiling (mean of the first and last bare runs)
    run: str = ""  # "first"/"last" for the two bare runs
    failure: str | None = None  # why the scenario could not be measured

    @property
    def errors(self) -> int:
        return (self.closed.errors if self.closed else 0) + (self.paced.errors if self.paced else 0)

    def checks(self) -> list[bool]:
        """Each SPEC §13 condition that applies and was measured: the ratio, the paced p99, zero errors."""
        if self.failure is not None:
            return [False]
        if self.spec.kind == "reference":
            return []
        found = [self.errors == 0]
        if self.spec.ratio is not None and self.ratio is not None:
            found.append(self.ratio >= self.spec.ratio)
        bound = self.spec.latency_bound_ms
        if bound is not None and self.paced is not None:
            found.append(self.paced.p99_ms < bound)
        return found

    @property
    def met(self) -> bool | None:
        checks = self.checks()
        return all(checks) if checks else None

    def target_text(self) -> str:
        parts = []
        if self.spec.ratio is not None:
            parts.append(f"≥ {percent(self.spec.ratio)}")
        if self.spec.latency_bound_ms is not None:
            parts.append(f"p99 < {self.spec.latency_bound_ms:.0f} ms")
        return ", ".join(parts) if parts else "—"

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.spec.name,
            "run": self.run or None,
            "title": self.spec.title,
            "kind": self.spec.kind,
            "closed": dataclasses.asdict(self.closed) if self.closed else None,
            "paced": dataclasses.asdict(self.paced) if self.paced else None,
            "ratio_of_bare": self.ratio,
            "target": {"ratio": self.spec.ratio, "paced_p99_ms": self.spec.latency_bound_ms, "errors": 0}
            if self.spec.kind != "reference"
            else None,
            "met": self.met,
            "failure": self.failure,
        }


def ceiling(outcomes: list[Outcome]) -> float | None:
    bare = [o.closed.rps for o in outcomes if o.spec.name == "bare" and o.closed]
    return sum(bare) / len(bare) if bare else None


def apply_ratios(outcomes: list[Outcome]) -> None:
    top = ceiling(outcomes)
    for outcome in outcomes:
        if top and outcome.closed:
            outcome.ratio = outcome.closed.rps / top


# Figures as text ------------------------------------------------------------------------------------------------
def _n(value: float | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}"


def _ms(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def percent(ratio: float) -> str:
    """A share of the ceiling: whole percents, one decimal below 10 % (where the small ones are)."""
    return f"{100 * ratio:.1f} %" if ratio < 0.1 else f"{100 * ratio:.0f} %"


def _errors(outcome: Outcome) -> str:
    if outcome.failure is not None:
        return f"not measured: {outcome.failure}"
    closed = outcome.closed.errors if outcome.closed else None
    paced = outcome.paced.errors if outcome.paced else None
    text = " / ".join("—" if x is None else str(x) for x in (closed, paced))
    kinds: dict[str, int] = {}
    for result in (outcome.closed, outcome.paced):
        for kind, n in (result.error_kinds if result else {}).items():
            kinds[kind] = kinds.get(kind, 0) + n
    if kinds:
        text += " (" + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) + ")"
    return text


def _met(outcome: Outcome) -> str:
    return {True: "met", False: "NOT met", None: "—"}[outcome.met]


def rows(outcomes: list[Outcome]) -> list[list[str]]:
    found = []
    for o in outcomes:
        name = f"{o.spec.name} ({o.run})" if o.run else o.spec.name
        answered = o.closed if o.closed and o.closed.requests else None  # no latency when nothing was answered
        found.append(
            [
                name,
                _n(o.closed.rps if o.closed else None),
                "—" if o.ratio is None else percent(o.ratio),
                _ms(answered.p50_ms if answered else None),
                _ms(answered.p99_ms if answered else None),
                _ms(o.paced.p50_ms if o.paced else None),
                _ms(o.paced.p99_ms if o.paced else None),
                _errors(o),
                o.target_text(),
                _met(o),
            ]
        )
    return found


HEADERS = [
    "scenario", "req/s", "% of bare", "p50 ms", "p99 ms", "paced p50 ms", "paced p99 ms", "errors (closed / paced)",
    "target", "met",
]  # fmt: skip


def print_table(outcomes: list[Outcome], settings: dict[str, Any], console: Console) -> None:
    table = Table(
        title=(
            f"Leadflow benchmark: {settings['connections']} closed-loop connections, paced {settings['paced_rate']:g}"
            f" req/s, {settings['workers']} worker(s)"
        )
    )
    for n, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if n in (0, 7, 8) else "right")
    for row in rows(outcomes):
        style = "red" if row[-1] == "NOT met" else ("green" if row[-1] == "met" else None)
        table.add_row(*row, style=style)
    console.print(table)


def markdown_table(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "|".join("---" for _ in HEADERS) + "|"]
    for row in rows(outcomes):
        cells = [*row[:-1], f"**{row[-1]}**" if row[-1] == "NOT met" else row[-1]]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


# The machine, the commit ----------------------------------------------------------------------------------------
def machine(load_at_start: float) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    memory = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        # The 1-minute load average before the run and after it: other work on the machine shows here.
        "load_average": {"start": round(load_at_start, 2), "end": round(os.getloadavg()[0], 2)},
    }


def commit(repo: Path) -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    sha = git("rev-parse", "HEAD")
    # Uncommitted changes to tracked files, bar the figures a previous run wrote.
    dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!docs/performance.*"))
    return {"commit": sha or None, "dirty": dirty, "subject": git("log", "-1", "--format=%s")[:200] or None}


# Files ----------------------------------------------------------------------------------------------------------
def write_json(path: Path, report: dict[str, Any]) -> None:
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def chart(path: Path, outcomes: list[Outcome], title: str) -> None:
    """Two panels: throughput as a share of the bare ceiling (with the targets), paced p99 (with the bounds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: smaller, searchable
    plt.rcParams["svg.hashsalt"] = "leadflow-bench"  # stable ids: the file changes only when the figures do
    shown = [o for o in outcomes if o.spec.name != "bare"]
    names = [o.spec.name for o in shown]
    y = list(range(len(shown)))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 0.42 * len(shown) + 1.6), sharey=True)

    def colour(o: Outcome, passed: bool | None) -> str:
        """Each panel by its own bar: green when its bound is kept (and nothing failed), red when not, grey when the
        scenario has no bound there."""
        if passed is None or o.failure is not None:
            return "#c62828" if o.failure is not None else "#78909c"
        return "#2e7d32" if passed and o.errors == 0 else "#c62828"

    def ratio_kept(o: Outcome) -> bool | None:
        return None if o.spec.ratio is None or o.ratio is None else o.ratio >= o.spec.ratio

    def latency_kept(o: Outcome) -> bool | None:
        bound = o.spec.latency_bound_ms
        return None if bound is None or o.paced is None else o.paced.p99_ms < bound

    left.barh(y, [100 * (o.ratio or 0) for o in shown], color=[colour(o, ratio_kept(o)) for o in shown])
    for i, o in enumerate(shown):
        if o.spec.ratio is not None:
            left.plot([100 * o.spec.ratio] * 2, [i - 0.4, i + 0.4], color="black", linewidth=2)
        left.text(100 * (o.ratio or 0) + 0.3, i, percent(o.ratio or 0), va="center", fontsize=8)
    left.set_yticks(y, names)
    left.invert_yaxis()
    left.set_xlabel("closed loop: req/s as % of the bare endpoint (black: target)")
    p99 = [o.paced.p99_ms if o.paced else 0 for o in shown]
    right.barh(y, p99, color=[colour(o, latency_kept(o)) for o in shown])
    for i, o in enumerate(shown):
        bound = o.spec.latency_bound_ms
        if bound is not None:
            right.plot([bound] * 2, [i - 0.4, i + 0.4], color="black", linewidth=2)
        right.text(p99[i] * 1.05 if p99[i] else 0.1, i, _ms(p99[i]) + " ms", va="center", fontsize=8)
    right.set_xscale("log")
    right.set_xlabel("paced: p99 latency, ms, log scale (black: bound)")
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, format=path.suffix.lstrip("."), metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(figure)


def rewrite_markdown(path: Path, generated: str) -> None:
    text = path.read_text(encoding="utf-8")
    if START not in text or END not in text:
        raise SystemExit(f"{path} has no {START} … {END} markers for the generated part")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    path.write_text(pattern.sub(lambda _: f"{START}\n{generated.strip()}\n{END}", text), encoding="utf-8")


def generated_markdown(report: dict[str, Any], outcomes: list[Outcome], chart_name: str) -> str:
    m, s, d = report["machine"], report["settings"], report["dataset"]
    source = report["source"]
    sha = (source["commit"] or "unknown")[:12] + (" (with uncommitted changes)" if source["dirty"] else "")
    met = [o for o in outcomes if o.met is not None]
    passed = sum(1 for o in met if o.met)
    data = ", ".join(f"{d[k]:,} {k}" for k in ("requests", "transactions") if isinstance(d.get(k), int))
    lines = [
        f"Generated by `make bench` on {report['date']} from commit `{sha}`. "
        f"{passed} of {len(met)} scenarios meet their targets.",
        "",
        markdown_table(outcomes),
        "",
        f"![Throughput as a share of the bare endpoint, and paced p99 latency]({chart_name})",
        "",
        f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM; {m['os']}; "
        f"Python {m['python']}; PostgreSQL {report.get('postgresql') or 'unknown'}; "
        f"load average {m['load_average']['start']} before the run, {m['load_average']['end']} after it.",
        f"- **Service**: {s['service']}, {s['workers']} worker process(es), Redis: {s['redis'] or 'none'}.",
        f"- **Data set**: {d.get('scale', 'unknown')} ({data}).",
        f"- **Runs**: closed loop wrk -t{s['threads']} -c{s['connections']}, {s['closed_seconds']} s each after a "
        f"{s['warmup_seconds']} s warm-up; paced {s['paced_rate']:g} req/s for {s['paced_seconds']} s each. "
        f"% of bare: against the mean of the first and last bare runs ({_n(report['bare_rps'])} req/s).",
        "- Full figures (p90, maximum, error kinds, settings): [performance.json](performance.json).",
    ]
    return "\n".join(lines)


def names_known(names: list[str]) -> list[str]:
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return names
