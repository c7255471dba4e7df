"""Resuming a sweep: finished cells kept on disk, the folder check, and the fingerprint of what decides results.

A sweep is a grid of cells (e.g. one (model, beta, d, N, trial) each). Each finished cell is appended as
one JSON line to ``cells.jsonl`` (one write with O_APPEND, flushed and fsync'ed), and the tidy tables
``<stem>.parquet``/``.csv`` are rewritten from all finished cells atomically (temp file + rename). A
kill can therefore cost at most the cell in flight: a torn last line is cut off when the log is opened again.

``sweep.json`` holds the fingerprint: the config fields that decide the results, an explicit list declared
beside each experiment (``RESULT_FIELDS``), so a field that changes nothing (plots, device, an unused family's
settings) never blocks a resume. Resuming into a folder whose ``sweep.json`` differs is refused, so two
different sweeps never mix in one table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hopfield_cli.errors import UsageError
from hopfield_cli.report.files import write_json, write_table

CELLS_FILE = "cells.jsonl"
SWEEP_FILE = "sweep.json"


def fingerprint(cfg: Any, fields: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """The named fields of a typed config (dotted names reach into nodes: ``families.dense``), plus ``extra``."""
    import dataclasses
    import operator

    out: dict[str, Any] = {}
    for name in fields:
        value = operator.attrgetter(name)(cfg)
        out[name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    out.update(extra)
    return json.loads(json.dumps(out, default=str))


def resume_folder(folder: Any) -> Path:
    """``resume=`` names an earlier run folder of a sweep (it has ``sweep.json``) that can be written."""
    path = Path(str(folder)).expanduser()
    if not path.is_dir():
        raise UsageError("resume", f"no such run folder: {path}")
    if not (path / SWEEP_FILE).is_file():
        raise UsageError("resume", f"{path} is not a sweep's run folder (it has no {SWEEP_FILE})")
    if not os.access(path, os.W_OK):
        raise UsageError("resume", f"the run folder is not writable: {path}")
    return path


def work_folder(resume: Any, run_dir: Path) -> Path:
    """Where a sweep writes: the resumed folder, or this run's own."""
    return run_dir if resume is None else resume_folder(resume)


def count_cells(folder: Path) -> int:
    """Finished cells in ``folder`` (complete lines of its cells log; 0 when there is none)."""
    try:
        with open(Path(folder) / CELLS_FILE, "rb") as fh:
            return sum(1 for line in fh if line.endswith(b"\n"))
    except OSError:
        return 0


def cell_id(key: Mapping[str, Any]) -> str:
    """A stable text id of a cell key (sorted JSON)."""
    return json.dumps({k: key[k] for k in sorted(key)}, sort_keys=True, default=float)


class CellLog:
    """Append-only log of finished cells in ``run_dir``, with the tables rebuilt after each append."""

    def __init__(self, run_dir: Path | str, fingerprint: Mapping[str, Any], stem: str = "results"):
        self.run_dir = Path(run_dir)
        self.stem = stem
        self.path = self.run_dir / CELLS_FILE
        self._check_fingerprint(json.loads(json.dumps(dict(fingerprint), default=str)))
        self._rows: list[dict[str, Any]] = []
        self._done: dict[str, list[dict[str, Any]]] = {}
        self._load()

    def _check_fingerprint(self, fingerprint: dict[str, Any]) -> None:
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                "hydra.run.dir", f"cannot create the output folder {self.run_dir}: {exc.strerror}"
            ) from None
        if not os.access(self.run_dir, os.W_OK):
            raise UsageError("hydra.run.dir", f"the output folder is not writable: {self.run_dir}")
        sweep_file = self.run_dir / SWEEP_FILE
        if sweep_file.exists():
            try:
                previous = json.loads(sweep_file.read_text())
            except (OSError, json.JSONDecodeError):
                raise UsageError("resume", f"{sweep_file} is unreadable; use a new output folder") from None
            differing = sorted(
                k for k in set(previous) | set(fingerprint) if previous.get(k) != fingerprint.get(k)
            )
            if differing:
                raise UsageError(
                    "resume",
                    f"{self.run_dir} holds a different sweep (differs in: {', '.join(differing)}); "
                    "use a new folder or the same settings",
                )
        elif self.path.exists():
            raise UsageError("resume", f"{self.run_dir} holds cells of an unknown sweep; use a new folder")
        else:
            write_json(sweep_file, fingerprint)

    def _load(self) -> None:
        if not self.path.exists():
            return
        self._drop_torn_tail()
        with open(self.path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a corrupt line (edited by hand?): that cell is simply redone
                if not isinstance(record, dict) or "cell" not in record or "rows" not in record:
                    continue
                key = cell_id(record["cell"])
                if key not in self._done:
                    self._done[key] = record["rows"]
                    self._rows.extend(record["rows"])

    def _drop_torn_tail(self) -> None:
        """Cut a last line left unfinished by a kill, so the next append starts a line of its own."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1  # 0 when the only line is torn
            with open(self.path, "r+b") as fh:
                fh.truncate(keep)
                fh.flush()
                os.fsync(fh.fileno())

    def __len__(self) -> int:
        return len(self._done)

    def get(self, key: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The rows of a finished cell, or None if it still has to run."""
        return self._done.get(cell_id(key))

    def add(self, key: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> None:
        """Record a finished cell durably, then rewrite the tables."""
        rows = [dict(r) for r in rows]
        line = json.dumps({"cell": dict(key), "rows": rows}, default=_jsonable) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
        self._done[cell_id(key)] = rows
        self._rows.extend(rows)
        self.write_tables()

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows)

    def write_tables(self) -> None:
        if self._rows:
            write_table(self.frame(), self.run_dir, self.stem)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
