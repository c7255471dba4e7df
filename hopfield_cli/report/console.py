"""The terminal side of a run: the Rich console, key/value summary tables and a progress bar over cells."""

from __future__ import annotations

import io
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text


def _width() -> int | None:
    """The width to force when ``COLUMNS`` is set but unusable (``COLUMNS=0`` made Rich print nothing at
    all, not even ``results in <folder>``): the terminal's, else 80. None: let Rich decide."""
    raw = os.environ.get("COLUMNS")
    if raw is None or (raw.strip().isdigit() and int(raw) >= MIN_COLUMNS):
        return None
    saved = os.environ.pop("COLUMNS")
    try:
        return max(MIN_COLUMNS, shutil.get_terminal_size((80, 24)).columns)
    finally:
        os.environ["COLUMNS"] = saved


MIN_COLUMNS = 20  # narrower than this, a table is one letter a line: COLUMNS below it is ignored
console = Console(stderr=False, width=_width())
# The first failed write to stdout (a full device, a closed pipe): the run goes on, its results reach their
# files, and ``tasks``/``launch`` end it with one line on stderr (``stdout_error``).
_stdout_failure: list[OSError] = []


def _to_stdout(write: Any, *args: Any, **kwargs: Any) -> None:
    """``write(*args, **kwargs)`` onto stdout; an OSError is kept (not raised) and stdout is pointed at
    /dev/null, so no later write (nor the interpreter's last flush) fails again."""
    if _stdout_failure:
        return
    try:
        write(*args, **kwargs)
        sys.stdout.flush()
    except OSError as exc:
        _stdout_failure.append(exc)
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, sys.stdout.fileno())
            os.close(null)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process


def reset_stdout_error() -> None:
    """Forget an earlier run's failed write (several runs in one process: the tests)."""
    _stdout_failure.clear()


def stdout_error() -> str | None:
    """What went wrong writing to stdout during this run (None when nothing did)."""
    if not _stdout_failure:
        return None
    exc = _stdout_failure[0]
    return exc.strerror or " ".join(str(exc).split()) or type(exc).__name__


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
    """Two columns, key and value, that keep whole at 80 columns: a long value folds onto more lines
    (never an ellipsis), a key wraps only at spaces."""
    from rich import box

    table = Table(title=title, show_header=False, title_justify="left", box=box.SIMPLE, pad_edge=False)
    table.add_column("what", style="bold", min_width=16)
    table.add_column("value", justify="right", overflow="fold", min_width=12)
    for key, value in rows:
        table.add_row(key, format_value(value))
    return table


def format_value(value: Any) -> str:
    """A number in full at 4 significant digits (1.234e+05 beyond 10^6), an int with thousands separators."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:
            return "-"
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# --- what a run prints, also kept in its log ---------------------------------------------------------------

# What a run shows (tables, summaries, progress lines, warnings) is also logged here as plain text;
# ``app/logs`` sends it to the run's ``<command>.log``. It never reaches the root logger (Hydra's console
# handler would print it a second time, with a timestamp).
output_log = logging.getLogger("hopfield_cli.output")
output_log.propagate = False
output_log.addHandler(logging.NullHandler())
LOG_WIDTH = 100  # columns of the tables rendered for the log


def _plain(renderable: Any, width: int) -> str:
    """``renderable`` as plain text ``width`` columns wide, without the spaces Rich pads lines with."""
    text = Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)
    with text.capture() as captured:
        text.print(renderable)
    return "\n".join(line.rstrip() for line in captured.get().rstrip("\n").splitlines())


def show(renderable: Any) -> None:
    """Print a table (or any Rich renderable) on stdout and keep its plain text in the run's log.

    Not on a terminal (a pipe, a batch log) it is printed as that same plain text at the console's width.
    """
    if console.is_terminal:
        _to_stdout(console.print, renderable)
    else:
        _to_stdout(console.out, _plain(renderable, console.width), highlight=False)
    output_log.info("%s", _plain(renderable, LOG_WIDTH))


def say(line: str, err: bool = False) -> None:
    """Print one line whole (never wrapped: a path copies as one line) on stdout or stderr, and log it."""
    if err:
        print(line, file=sys.stderr, flush=True)
    else:
        _to_stdout(console.print, line, soft_wrap=True, markup=False, highlight=False)
    output_log.info("%s", line)


# --- progress over cells or rows: a Rich bar on a terminal; heartbeat lines in logs ----------------------------

HEARTBEAT_SECONDS = 30.0  # a batch log hears from a running command at least this often


def _elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}" if minutes else f"{seconds:.1f} s"


class Cells:
    """Progress over a run's cells (or rows, blocks, epochs: ``unit``), told three ways: a Rich bar (terminal
    only), ``note`` lines (a finished series; above the bar, or on stderr), and a heartbeat every
    ``HEARTBEAT_SECONDS`` with the ETA and the cell in flight (on stderr when there is no bar). Notes and
    heartbeats are also kept in the run's log.

    The bar and the ETA follow the work done, not the count: ``advance(n, work=w)`` adds ``w`` units of work
    (default ``n``), ``set_total(total, work=W)`` the whole. The ETA is the time the remaining work takes at
    the rate measured so far, counting down while a long cell runs (it never freezes). ``at_most``: the total
    is an upper estimate (an adaptive sweep that stops early), shown as ``<=``.
    """

    def __init__(
        self,
        description: str,
        total: int | None,
        progress: Progress | None,
        *,
        unit: str = "cells",
        work: float | None = None,
        at_most: bool = False,
        heartbeat: float | None = None,
    ):
        self.description, self.total, self.completed, self.unit = description, total, 0, unit
        self.work_total = float(work) if work is not None else (float(total) if total is not None else None)
        self.work_done, self.at_most = 0.0, at_most
        self.current = ""
        self.started = self.last_advance = time.perf_counter()
        self.progress = progress
        self.task = (
            progress.add_task(description, total=self.work_total, cells=self)
            if progress is not None
            else None
        )
        self._interval = HEARTBEAT_SECONDS if heartbeat is None else float(heartbeat)
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, daemon=True, name="hopfield-heartbeat")
        self._beat.start()

    def begin(self, what: str) -> None:
        """The cell now being computed, e.g. ``dense d=128 N=2,048``."""
        self.current = what
        if self.progress is not None:
            self.progress.update(self.task, description=f"{self.description} {what}")

    def advance(self, n: int = 1, work: float | None = None) -> None:
        self.completed += n
        self.work_done += float(n if work is None else work)
        self.last_advance = time.perf_counter()
        if self.progress is not None:
            self.progress.update(self.task, completed=self.work_done)

    def set_total(self, total: int | None, work: float | None = None) -> None:
        self.total = total
        self.work_total = float(work) if work is not None else (float(total) if total is not None else None)
        if self.progress is not None:
            self.progress.update(self.task, total=self.work_total)

    def eta(self) -> float | None:
        """Seconds left: the remaining work at the rate of the work done so far, less the time the cell in
        flight has already run; None before the first piece of work is done."""
        if self.work_total is None or self.work_done <= 0:
            return None
        spent = self.last_advance - self.started
        remaining = max(self.work_total - self.work_done, 0.0) * spent / self.work_done
        return max(remaining - (time.perf_counter() - self.last_advance), 0.0)

    def count(self) -> str:
        bound = "<=" if self.at_most else ""
        total = f"/{bound}{self.total:,}" if self.total is not None else ""
        return f"{self.completed:,}{total} {self.unit}"

    def percent(self) -> str:
        if not self.work_total:
            return ""
        return f" ({int(100 * min(self.work_done / self.work_total, 1.0))}%)"  # 99.7% is not yet 100%

    def note(self, line: str) -> None:
        """A line worth keeping (e.g. a finished series): above the bar, else on stderr; and in the log."""
        if self.progress is not None:
            self.progress.console.print(line, soft_wrap=True, markup=False, highlight=False)
            output_log.info("%s", line)
        else:
            say(line, err=True)

    def status(self) -> str:
        """The heartbeat's line: done of total (work share), elapsed, ETA and the cell in flight."""
        eta = self.eta()
        eta_text = f", ETA {_elapsed(eta)}" if eta is not None else ""
        now = f"; now {self.current}" if self.current else ""
        return (
            f"{self.description}: {self.count()}{self.percent()}, "
            f"{_elapsed(time.perf_counter() - self.started)}{eta_text}{now}"
        )

    def _heartbeat(self) -> None:
        while not self._stop.wait(self._interval):
            line = self.status()
            if self.progress is None:
                say(line, err=True)
            else:
                output_log.info("%s", line)

    def finish(self) -> None:
        self._stop.set()
        self._beat.join()
        total = f"/{self.total:,}" if self.total is not None else ""
        seconds = time.perf_counter() - self.started
        line = f"{self.description}: {self.completed:,}{total} {self.unit} in {_elapsed(seconds)}"
        if self.progress is None:
            say(line, err=True)
        else:
            output_log.info("%s", line)


class _CountColumn(ProgressColumn):
    """``3/<=24 cells``: the count the bar's work share stands for."""

    def render(self, task: Any) -> Text:
        cells = task.fields.get("cells")
        return Text(cells.count() if cells is not None else "", style="progress.download")


class _EtaColumn(ProgressColumn):
    """``ETA 1:23`` from the work done (``Cells.eta``), counting down while a long cell runs."""

    max_refresh = 0.5

    def render(self, task: Any) -> Text:
        cells = task.fields.get("cells")
        eta = cells.eta() if cells is not None else None
        return Text("ETA " + (_elapsed(eta) if eta is not None else "-:--"), style="progress.remaining")


@contextmanager
def cell_progress(
    description: str,
    total: int | None = None,
    *,
    unit: str = "cells",
    work: float | None = None,
    at_most: bool = False,
) -> Iterator[Cells]:
    """Yield a ``Cells``: ``begin(what)`` before a cell, ``advance(n, work=...)`` after it, ``set_total()``
    (sweeps that grow N adaptively re-estimate), ``note(line)`` for a line to keep. ``work``: the whole
    run's work in the unit ``advance`` counts it (default: ``total``, one unit a cell)."""
    err = Console(stderr=True, width=_width())
    if not err.is_terminal:
        cells = Cells(description, total, None, unit=unit, work=work, at_most=at_most)
        try:
            yield cells
        finally:
            cells.finish()
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        _CountColumn(),
        TimeElapsedColumn(),
        _EtaColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        cells = Cells(description, total, progress, unit=unit, work=work, at_most=at_most)
        try:
            yield cells
        finally:
            cells.finish()
