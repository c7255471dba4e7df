"""The terminal side of a run: the Rich console, key/value summary tables and a progress bar over cells."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

console = Console(stderr=False)


def replace_unencodable() -> None:
    """Print what the output cannot encode as ``?`` instead of ending in a UnicodeEncodeError.

    With ``PYTHONIOENCODING=ascii``, or ``LC_ALL=C`` where Python's UTF-8 mode is off, stdout takes ASCII
    only and fails on anything else; Rich then draws ASCII boxes but still writes an ellipsis or a user's
    non-ASCII path. stderr already replaces (``backslashreplace``) and is left alone.
    """
    import codecs

    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None)
        strict = getattr(stream, "errors", "") in ("strict", "surrogateescape")  # LC_ALL=C: surrogateescape
        if not (encoding and strict and hasattr(stream, "reconfigure")):
            continue
        try:
            if codecs.lookup(encoding).name != "utf-8":
                stream.reconfigure(errors="replace")
        except (LookupError, ValueError, OSError):
            pass


def key_value_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, format_value(value))
    return table


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- progress over sweep cells: a Rich bar with ETA on a terminal, one quiet line at the end otherwise -------


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
    err = Console(stderr=True)
    if not err.is_terminal:
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
    with Progress(*columns, console=err, transient=False) as progress:
        yield _Bar(progress, description, total)
