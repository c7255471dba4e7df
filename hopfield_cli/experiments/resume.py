"""Resuming a sweep: finished cells kept on disk, the folder check, and the fingerprint of what decides results.

A sweep is a grid of cells (e.g. one (model, beta, d, N, trial) each). Each finished cell is appended as
one JSON line to ``cells.jsonl`` (written whole with O_APPEND and fsync'ed, or cut back to where it began when the
disk fills), and the tidy tables ``<stem>.parquet``/``.csv`` are rewritten from all finished cells atomically
(temp file + rename). A kill can therefore cost at most the cell in flight: a torn last line is cut off when the
log is opened again, and the tables are rebuilt from the log then (a kill between a cell's line and its tables
left them a cell short).

``sweep.json`` holds the fingerprint: the config fields that decide the results, an explicit list declared
beside each experiment (``RESULT_FIELDS``), so a field that changes nothing (plots, device, an unused family's
settings) never blocks a resume. Resuming into a folder whose ``sweep.json`` differs is refused, so two
different sweeps never mix in one table. Each cell line carries the fingerprint's hash (``sweep``), so a line
spliced in from another sweep (another seed) is never taken: it is computed again, like a damaged line (not
JSON, not UTF-8, a cell or rows of the wrong shape), and a warning counts them. A damaged ``sweep.json`` is
rewritten from the run's settings (the hashes still tell this sweep's cells apart); a log or fingerprint that
is not a regular file, or that cannot be written, is refused in one line.

The fingerprint holds the CONTENT of every input file (``INPUT_FIELDS``: a sha256 read in blocks), not only its
path: a pattern file edited between two runs makes a different sweep, never a resume of the old one's cells.
The log is opened with ``O_NOFOLLOW``: a ``cells.jsonl`` that is a symbolic link (to a file outside the folder)
is refused, never truncated or appended to.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from hopfield_cli.errors import UsageError
from hopfield_cli.report.files import write_error, write_json, write_table

CELLS_FILE = "cells.jsonl"
SWEEP_FILE = "sweep.json"
# Config fields naming an input file (or a folder of images) whose content decides the results.
INPUT_FIELDS = ("memory", "patterns.path", "queries_file", "targets_file", "attention")
HASH_BLOCK = 1 << 20  # bytes read at a time: a file of any size is hashed in constant memory


def fingerprint(cfg: Any, fields: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    """The named fields of a typed config (dotted names reach into nodes: ``families.dense``), plus ``extra``."""
    import dataclasses
    import operator

    out: dict[str, Any] = {}
    for name in fields:
        value = operator.attrgetter(name)(cfg)
        out[name] = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value
    out.update(extra)
    inputs = input_hashes(cfg)
    if inputs:
        out["input_sha256"] = inputs
    return json.loads(json.dumps(out, default=str))


def _value_of(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part, None)
    return cfg


def input_hashes(cfg: Any) -> dict[str, str]:
    """``INPUT_FIELDS`` set in ``cfg`` -> the sha256 of what they name (a folder: of its files' names and
    contents, in name order), so an input edited in place is a new sweep."""
    out: dict[str, str] = {}
    for field in INPUT_FIELDS:
        value = _value_of(cfg, field)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).expanduser()
        try:
            out[field] = content_hash(path)
        except OSError as exc:
            raise UsageError(field, f"cannot read {exc.filename or path}: {exc.strerror or exc}") from None
    return out


def content_hash(path: Path) -> str:
    """sha256 of a file read in ``HASH_BLOCK`` blocks; of a folder, over its regular files' names and bytes."""
    digest = hashlib.sha256()
    files = [path] if not path.is_dir() else sorted(p for p in path.iterdir() if p.is_file())
    for file in files:
        if file is not path:
            digest.update(file.name.encode("utf-8", "surrogateescape") + b"\0")
        with open(file, "rb") as fh:
            while block := fh.read(HASH_BLOCK):
                digest.update(block)
    return digest.hexdigest()


def sweep_hash(fingerprint: Mapping[str, Any]) -> str:
    """A short hash of a fingerprint (canonical JSON), stamped on every cell line of its sweep."""
    text = json.dumps(dict(fingerprint), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def resume_folder(folder: Any) -> Path:
    """``resume=`` names an earlier run folder of a sweep (it has ``sweep.json``) that can be written."""
    path = Path(str(folder)).expanduser()
    if not path.is_dir():
        raise UsageError("resume", f"no such run folder: {path}")
    sweep_file = path / SWEEP_FILE
    if not sweep_file.exists():
        raise UsageError("resume", f"{path} is not a sweep's run folder (it has no {SWEEP_FILE})")
    for name in (SWEEP_FILE, CELLS_FILE):
        if (path / name).exists() and not (path / name).is_file():
            raise UsageError("resume", f"{path / name} is damaged: not a regular file; use a new folder")
    if (path / CELLS_FILE).is_symlink():
        raise UsageError("resume", linked(path / CELLS_FILE))
    if not os.access(path, os.W_OK):
        raise UsageError("resume", f"the run folder is not writable: {path}")
    return path


def linked(path: Path) -> str:
    """The refusal of a log that is a symbolic link: appending would write wherever it points."""
    return (
        f"{path} is a symbolic link (to {os.readlink(path)}), not a regular file of the folder; hopfield writes "
        "only inside its run folders: replace it by a copy of the file, or use a new folder"
    )


def work_folder(resume: Any, run_dir: Path) -> Path:
    """Where a sweep writes: the resumed folder, or this run's own."""
    return run_dir if resume is None else resume_folder(resume)


def count_cells(folder: Path) -> int:
    """Finished cells in ``folder`` (complete lines of its cells log; 0 when there is none)."""
    path = Path(folder) / CELLS_FILE
    if not path.is_file():
        return 0
    try:
        with open(path, "rb") as fh:
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
        self.field = "hydra.run.dir"  # "resume" once the folder turns out to hold a sweep already
        fingerprint = json.loads(json.dumps(dict(fingerprint), default=str))
        self.stamp = sweep_hash(fingerprint)
        self._check_fingerprint(fingerprint)
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
            self.field = "resume"
        previous, damage = self._read_fingerprint(sweep_file)
        if previous is not None:
            differing = sorted(
                k for k in set(previous) | set(fingerprint) if previous.get(k) != fingerprint.get(k)
            )
            if differing:
                raise UsageError(
                    "resume",
                    f"{self.run_dir} holds a different sweep (differs in: {', '.join(differing)}); "
                    "use a new folder or the same settings",
                )
        elif damage is not None:
            _warn(
                f"{sweep_file} was damaged ({damage}); rewritten from this run's settings: only the cells "
                "stamped with them are kept"
            )
            write_json(sweep_file, fingerprint)
        elif self.path.exists():
            raise UsageError("resume", f"{self.run_dir} holds cells of an unknown sweep; use a new folder")
        else:
            write_json(sweep_file, fingerprint)
        self._check_log()

    def _read_fingerprint(self, sweep_file: Path) -> tuple[dict[str, Any] | None, str | None]:
        """The fingerprint on disk, or (None, what is wrong with it); (None, None) when there is none."""
        if not sweep_file.exists():
            return None, None
        if not sweep_file.is_file():
            raise UsageError("resume", f"{sweep_file} is damaged: not a regular file; use a new folder")
        try:
            previous = json.loads(sweep_file.read_bytes().decode("utf-8"))
        except OSError as exc:
            raise UsageError("resume", f"cannot read {sweep_file}: {exc.strerror or exc}") from None
        except ValueError:
            return None, "not JSON"
        if not isinstance(previous, dict):
            return None, f"JSON {type(previous).__name__.replace('NoneType', 'null')}, not an object"
        return previous, None

    def _check_log(self) -> None:
        """An existing log must be a regular file this run can append to (not a folder, FIFO, immutable)."""
        if not (self.path.exists() or self.path.is_symlink()):
            return
        if not self.path.is_file():
            raise UsageError(self.field, f"{self.path} is damaged: not a regular file; use a new folder")
        if self.path.is_symlink():
            raise UsageError(self.field, linked(self.path))
        try:
            os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW))
        except OSError as exc:
            raise UsageError(self.field, f"cannot write {self.path}: {exc.strerror or exc}") from None

    def _load(self) -> None:
        if not self.path.exists():
            return
        self._drop_torn_tail()
        damaged, foreign = 0, 0
        for line in self.path.read_bytes().splitlines():
            record, problem = self._parse(line)
            damaged += problem == "damaged"
            foreign += problem == "foreign"
            if record is None:
                continue
            key = cell_id(record["cell"])
            if key not in self._done:
                self._done[key] = record["rows"]
                self._rows.extend(record["rows"])
        if damaged or foreign:
            parts = [f"{damaged} damaged line{'s' * (damaged != 1)}"] if damaged else []
            parts += [f"{foreign} cell{'s' * (foreign != 1)} of another sweep"] if foreign else []
            _warn(f"{self.path}: {' and '.join(parts)} ignored; those cells are computed again")
        # A kill between a cell's line and its table rewrite left the tables one cell short: rebuild them from
        # the log now, so a resume that finds every cell done still ends with complete tables.
        self.write_tables()

    def _parse(self, line: bytes) -> tuple[dict[str, Any] | None, str | None]:
        """A cell record of this sweep, or None and why not ("damaged", "foreign"; None for a blank line)."""
        if not line.strip():
            return None, None
        try:
            record = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            return None, "damaged"
        if not (
            isinstance(record, dict)
            and isinstance(record.get("cell"), dict)
            and all(_scalar(v) for v in record["cell"].values())
            and isinstance(record.get("rows"), list)
            and record["rows"]
            and all(isinstance(r, dict) and all(_scalar(v) for v in r.values()) for r in record["rows"])
        ):
            return None, "damaged"
        if record.get("sweep") != self.stamp:
            return None, "foreign"
        return record, None

    def _drop_torn_tail(self) -> None:
        """Cut a last line left unfinished by a kill, so the next append starts a line of its own."""
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1  # 0 when the only line is torn
            fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                os.ftruncate(fd, keep)
                os.fsync(fd)
            finally:
                os.close(fd)

    def __len__(self) -> int:
        return len(self._done)

    def get(self, key: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The rows of a finished cell, or None if it still has to run."""
        return self._done.get(cell_id(key))

    def add(self, key: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> None:
        """Record a finished cell durably, then rewrite the tables.

        The line is written whole (a short write, as at a file-size limit, is continued) and fsync'ed; if the
        disk refuses it, the log is cut back to where the line began and the OSError names the log.
        """
        rows = [dict(r) for r in rows]
        record = {"sweep": self.stamp, "cell": dict(key), "rows": rows}
        data = (json.dumps(record, default=_jsonable) + "\n").encode("utf-8")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o666)
        except OSError as exc:  # ELOOP: a link put in its place during the run
            raise write_error(exc, self.path) from exc
        try:
            start = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError as exc:
                _cut(fd, start)
                raise write_error(exc, self.path) from exc
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


def _cut(fd: int, size: int) -> None:
    """Cut the log back to ``size`` bytes (a line the disk refused half way must not stay)."""
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the torn tail is cut when the log is opened again


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _warn(line: str) -> None:
    from hopfield_cli.experiments.warnings import warn

    warn([line])


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
