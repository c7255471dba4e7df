"""The folders a run writes: one run at a time in each, nothing left behind by a refused run, disk errors as one line.

- ``run_folder``: a single run holds its run folder (``report.locks.folder_lock``) from before Hydra writes
  ``.hydra/`` until it ends, so a second run into the same folder is refused in one line instead of mixing its
  files with the first's. When Hydra's own files cannot be written (a full disk, ``ulimit -f``), what it made
  is removed and the run ends in one line.
- ``sweep_folder``: the same for a multirun's sweep folder, resolved once (``${now:...}``) and pinned, so the
  folder locked is the folder Hydra's launcher writes.
- ``remove_stub``: a single run refused by an error found in the data (a NaN in a file, a too-small
  ``beta_max``) leaves no run folder behind (README: "no run folder on refusal"): when the folder holds only
  what Hydra made (``.hydra/``, the ``.log``) and our lock file, those are removed, and so are the folders this
  run created above it, if empty.
- ``refuse_links``: Hydra opens ``.hydra/*.yaml`` and ``<job>.log`` following symbolic links; a run or sweep
  folder where one of them (or ``.hydra`` itself) is a link is refused in one line before Hydra writes, so a
  file outside the run's folders is never rewritten or appended to.
- ``os_error``: an ``OSError`` while a run writes or reads (a full disk, a file-size limit, an immutable file)
  as ``error: <field>: <file>: <what happened>``, the field being the folder or file setting it fell under.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hopfield_cli.errors import UsageError
from hopfield_cli.report.locks import LOCK_FILE, folder_lock

HYDRA_FILES = ("config.yaml", "hydra.yaml", "overrides.yaml")  # what Hydra writes into <run folder>/.hydra
DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
NOT_ALLOWED = {errno.EPERM, errno.EACCES, errno.EROFS}
# Config fields naming a file or folder, checked in this order (an output folder is checked last: inputs
# may lie inside it).
PATH_FIELDS = ("out", "resume", "memory", "patterns.path", "queries_file", "targets_file", "attention")


def first_missing(folder: Path) -> Path | None:
    """The topmost folder of ``folder``'s path that does not exist yet (None when ``folder`` exists)."""
    folder = Path(os.path.abspath(folder))
    if folder.exists():
        return None
    while not folder.parent.exists():
        folder = folder.parent
    return folder


def remove_stub(run_dir: Path, job_name: str, created: Path | None) -> None:
    """Remove a run folder that holds only what Hydra made; also the empty folders this run created."""
    run_dir = Path(os.path.abspath(run_dir))
    made = {".hydra", f"{job_name}.log", LOCK_FILE}
    try:
        names = {p.name for p in run_dir.iterdir()}
        hydra = {p.name for p in (run_dir / ".hydra").iterdir()} if ".hydra" in names else set()
    except OSError:
        return
    if not names <= made or not hydra <= set(HYDRA_FILES) or (run_dir / ".hydra").is_symlink():
        return
    for name in hydra:
        _unlink(run_dir / ".hydra" / name)
    _rmdir(run_dir / ".hydra")
    for name in names - {".hydra"}:
        _unlink(run_dir / name)
    if created is None:
        return
    folder = run_dir
    while folder == created or created in folder.parents:
        if not _rmdir(folder):
            return
        folder = folder.parent


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _rmdir(path: Path) -> bool:
    try:
        path.rmdir()
    except OSError:
        return False
    return True


def _full_error() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1"


def refuse(error: UsageError) -> None:
    """End the run with ``error: <field>: <message>`` on stderr (HYDRA_FULL_ERROR=1: raise it instead)."""
    if _full_error():
        raise error
    print(f"error: {error.field}: {error.message}", file=sys.stderr)
    raise SystemExit(error.exit_code) from None


def refuse_links(run_dir: Path, job_name: str, field: str) -> None:
    """Refuse a folder where a file Hydra writes (``.hydra/*.yaml``, ``<job>.log``) is a symbolic link."""
    names = [".hydra", *(f".hydra/{n}" for n in HYDRA_FILES), f"{job_name}.log"]
    for name in names:
        path = run_dir / name
        if path.is_symlink():
            raise UsageError(
                field,
                f"{path} is a symbolic link (to {os.readlink(path)}); hopfield writes only inside its run "
                "folders: remove the link or choose another folder",
            )


@contextmanager
def run_folder(cfg: Any) -> Iterator[Path | None]:
    """Hold a single run's folder while Hydra and the run write it; yields the topmost folder it creates."""
    run_dir = Path(os.path.abspath(os.path.expanduser(str(cfg.hydra.run.dir))))
    if str(cfg.hydra.run.dir).startswith("~"):  # Hydra would make a folder literally named ~
        from omegaconf import open_dict

        with open_dict(cfg):
            cfg.hydra.run.dir = str(run_dir)
    try:
        from hopfield_cli.app.check.checks import name_lengths

        name_lengths(str(run_dir), "hydra.run.dir")
        created = first_missing(run_dir)
    except OSError as exc:
        refuse(UsageError("hydra.run.dir", f"cannot use {run_dir}: {exc.strerror or exc}"))
    except UsageError as error:
        refuse(error)
    try:
        refuse_links(run_dir, str(cfg.hydra.job.name), "hydra.run.dir")
        with folder_lock(run_dir, "hydra.run.dir"):
            try:
                yield created
            except OSError as exc:  # Hydra's own files: .hydra/*.yaml, the log (the run's are handled inside)
                remove_stub(run_dir, str(cfg.hydra.job.name), created)
                if exc.filename is None:  # Hydra's open(...).write names no file
                    exc = OSError(exc.errno, exc.strerror or str(exc), str(run_dir / ".hydra"))
                raise os_error(exc, None, run_dir) from exc
    except UsageError as error:
        refuse(error)


@contextmanager
def sweep_folder(cfg: Any, overrides: list[str]) -> Iterator[list[str]]:
    """Hold a multirun's sweep folder; yields ``overrides`` with ``hydra.sweep.dir`` pinned to that folder.

    A folder name Hydra's override grammar cannot quote plainly (a quote, backslash or dollar sign) is not
    pinned, and then not locked either: the launcher may resolve ``${now:...}`` to another folder.
    """
    sweep_dir = str(cfg.hydra.sweep.dir)
    sweep_dir = os.path.expanduser(sweep_dir) if sweep_dir.startswith("~") else sweep_dir
    if any(c in sweep_dir for c in "'\\$"):
        yield overrides
        return
    keep = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") != "hydra.sweep.dir"]
    with folder_lock(sweep_dir, "hydra.sweep.dir"):
        one_sweep(Path(sweep_dir), cfg, keep)
        for job_dir in Path(sweep_dir).iterdir() if Path(sweep_dir).is_dir() else ():
            if job_dir.name.isdigit():
                refuse_links(job_dir, str(cfg.hydra.job.name), "hydra.sweep.dir")
        yield [*keep, f"hydra.sweep.dir='{sweep_dir}'"]


def _task_overrides(overrides: list[str]) -> list[str]:
    """The overrides Hydra records as the task's (``hydra.overrides.task``): all but Hydra's own."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(overrides=overrides)
    return [o.input_line for o in parsed if not o.is_hydra_override()]


def one_sweep(sweep_dir: Path, cfg: Any, overrides: list[str]) -> None:
    """A sweep folder holds one sweep: a different sweep (another command, primary config or overrides) into
    a folder that holds one is refused, so no job of the earlier sweep is merged into the new one's tables.
    The same sweep again (to finish its missing jobs) is allowed."""
    import yaml

    if not sweep_dir.is_dir():
        return
    record = sweep_dir / "multirun.yaml"
    wanted = (str(cfg.hydra.job.name), str(cfg.hydra.job.config_name), _task_overrides(overrides))
    way_out = f"choose another hydra.sweep.dir, or move the old sweep aside (mv {sweep_dir} {sweep_dir}.old)"
    if record.exists() or record.is_symlink():
        try:
            hydra = (yaml.safe_load(record.read_bytes().decode("utf-8")) or {}).get("hydra") or {}
            job = hydra.get("job") or {}
            old = (str(job.get("name")), str(job.get("config_name")), list(hydra["overrides"]["task"] or []))
        except Exception:  # noqa: BLE001 - damaged, a folder, not YAML: not provably this sweep
            raise UsageError(
                "hydra.sweep.dir", f"{sweep_dir} holds a sweep whose {record.name} is unreadable; {way_out}"
            ) from None
        if [str(o) for o in old[2]] != wanted[2] or old[:2] != wanted[:2]:
            shown = " ".join(old[2]) or "no overrides"
            raise UsageError(
                "hydra.sweep.dir",
                f"{sweep_dir} holds another sweep ({old[0]} -cn {old[1]} {shown}); {way_out}",
            )
        return
    jobs = [p.name for p in sweep_dir.iterdir() if p.name.isdigit() and (p / ".hydra").exists()]
    if jobs:
        raise UsageError(
            "hydra.sweep.dir",
            f"{sweep_dir} holds job folders ({', '.join(sorted(jobs)[:3])}, ...) of an unknown sweep; {way_out}",
        )


@contextmanager
def work_folder_lock(typed: Any) -> Iterator[None]:
    """A resumable sweep writes into ``resume=``'s folder: hold it too."""
    resume = getattr(typed, "resume", None)
    if resume is None:
        yield
        return
    with folder_lock(Path(str(resume)).expanduser(), "resume"):
        yield


def field_of(path: str | None, typed: Any, run_dir: Path | None) -> str:
    """The config field whose file or folder holds ``path`` (``hydra.run.dir`` when none does)."""
    if path is None:
        return "hydra.run.dir"
    target = os.path.abspath(str(path))
    for field in PATH_FIELDS:
        value = _get(typed, field)
        if value is None:
            continue
        base = os.path.abspath(os.path.expanduser(str(value)))
        if target == base or target.startswith(base.rstrip(os.sep) + os.sep):
            return field
    return "hydra.run.dir"


def _get(typed: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        typed = getattr(typed, part, None)
    return typed


def os_error(exc: OSError, typed: Any, run_dir: Path | None, resumable: bool = False) -> UsageError:
    """An OSError as one line naming the field, the file and what to do (``resumable``: how to go on)."""
    path = exc.filename
    words = exc.strerror or " ".join(str(exc).split()) or type(exc).__name__
    if exc.errno in DISK_FULL:
        words += (
            " (the disk is full or a file-size limit, ulimit -f, was reached); nothing half-written is left"
        )
    elif exc.errno in NOT_ALLOWED:
        words += " (check the permissions and attributes, e.g. lsattr, of the file and its folder)"
    if resumable:
        folder = getattr(typed, "resume", None) or run_dir
        words += f"; the finished cells are kept: resume={folder} once fixed"
    text = f"{path}: {words}" if path else words
    return UsageError(field_of(path, typed, run_dir), text)
