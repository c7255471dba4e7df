"""A Rich progress bar over sweep cells, with ETA on a terminal and one quiet line at the end otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _Quiet:
    """Counts cells silently; prints one summary line when the sweep ends (CI logs, batch jobs)."""

    def __init__(self, description: str, total: int | None):
        self.description = description
        self.total = total
        self.completed = 0
        self.started = time.perf_counter()

    def advance(self, n: int = 1) -> None:
        self.completed += n

    def set_total(self, total: int | None) -> None:
        self.total = total

    def finish(self) -> None:
        total = f"/{self.total}" if self.total is not None else ""
        seconds = time.perf_counter() - self.started
        print(f"{self.description}: {self.completed}{total} cells in {seconds:.1f} s", file=sys.stderr)


class _Bar:
    def __init__(self, progress: Progress, description: str, total: int | None):
        self.progress = progress
        self.task = progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)

    def set_total(self, total: int | None) -> None:
        self.progress.update(self.task, total=total)

    def finish(self) -> None:
        pass


@contextmanager
def cell_progress(description: str, total: int | None = None) -> Iterator[_Bar | _Quiet]:
    """Yield an object with ``advance()`` and ``set_total()`` (sweeps that grow N adaptively re-estimate)."""
    console = Console(stderr=True)
    if not console.is_terminal:
        quiet = _Quiet(description, total)
        try:
            yield quiet
        finally:
            quiet.finish()
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield _Bar(progress, description, total)
