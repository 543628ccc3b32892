"""Progress bars for long commands (`seed-demo --scale large`, `import-leadschem`): one rich bar per table."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

Advance = Callable[[str, int, int], None]  # (table, rows just handled, rows planned for it)


@contextmanager
def bars(console: Console) -> Iterator[Advance]:
    """Bars on ``console`` (stderr, so that stdout stays the command's answer); yields ``advance``, which adds a bar
    the first time it hears of a table."""
    columns = (TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        tasks: dict[str, TaskID] = {}

        def advance(table: str, written: int, planned: int) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(table, total=planned)
            progress.advance(tasks[table], written)

        yield advance
