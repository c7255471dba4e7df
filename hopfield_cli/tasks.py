"""Hydra task functions, one per subcommand, importable at module level (launchers pickle them).

Each task validates its composed config, then hands it to its experiment module with the run folder.
In a single run a UsageError raised anywhere inside becomes one line on stderr and exit status 2.

In a multirun (-m) one job's failure must not end the sweep: Hydra's run_job records an Exception in the
JobReturn, but BasicSweeper re-raises it after the batch (so the other batches and the merge at
``on_multirun_end`` never run), and a SystemExit is not caught at all. So a multirun job catches its own
error, records it in ``<job dir>/job_status.json`` (as it records success) and returns normally; the
sweep goes on, ``hopfield_cli.collect.MergeCallback`` merges and names the failed jobs, and
``cli.run_hydra`` turns them into exit status 1. This works the same for every launcher: the record is a
file in the job folder, written in whichever process or machine ran the job.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hopfield_cli.config import register_configs, validate
from hopfield_cli.errors import CapacityError, UsageError
from hopfield_cli.preflight import quiet_launcher_schema_warning

log = logging.getLogger(__name__)

# Here, at import, because joblib and submitit workers compose each job's config after unpickling a task.
quiet_launcher_schema_warning()

JOB_STATUS_FILE = "job_status.json"

# subcommand -> module in hopfield_cli.experiments holding `run(cfg, run_dir)`
EXPERIMENTS = {
    "store": "store",
    "retrieve": "retrieve",
    "capacity-sweep": "capacity_sweep",
    "metastable-scan": "metastable_scan",
}


def _experiment(command: str, cfg: DictConfig, run_dir: Path) -> None:
    validate(command, cfg)
    experiment = importlib.import_module(f"hopfield_cli.experiments.{EXPERIMENTS[command]}")
    try:
        experiment.run(cfg, run_dir)
    except (MemoryError, RuntimeError) as exc:
        # resources.check_memory refuses what certainly cannot fit; what it missed (other processes took the
        # memory, an estimate too low) still ends in one line rather than an allocator traceback.
        if not isinstance(exc, MemoryError) and not _is_out_of_memory(exc):
            raise
        raise CapacityError(
            "memory", f"ran out of memory during the run ({_one_line(exc)[:200]}); use smaller sizes"
        ) from None


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text or "cannot allocate memory" in text


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def error_line(error: BaseException) -> str:
    """One line for an error: ``field: message`` for a UsageError, ``Type: message`` otherwise."""
    if isinstance(error, UsageError):
        return f"{error.field}: {error.message}"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_task(command: str, cfg: DictConfig) -> dict[str, Any] | None:
    """Validate ``cfg`` and run the experiment of ``command`` in Hydra's output folder."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode == RunMode.MULTIRUN:
        return run_job(command, cfg, run_dir, int(hydra_cfg.job.num), list(hydra_cfg.overrides.task))
    try:
        with terminate_as_interrupt():
            _experiment(command, cfg, run_dir)
    except UsageError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error_line(error)}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None
    except KeyboardInterrupt as stop:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        signum = stop.args[0] if stop.args and isinstance(stop.args[0], int) else signal.SIGINT
        print(interrupted_line(command, cfg, run_dir), file=sys.stderr)
        raise SystemExit(128 + int(signum)) from None
    return None


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While a run lasts, SIGTERM (a scheduler's kill, ``kill PID``) unwinds like Ctrl-C: KeyboardInterrupt
    carrying the signal number, so temporary files are removed and the one-line report below is printed.

    Only in the main thread (signal handlers cannot be set elsewhere; launcher workers keep the default).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(signum)

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def interrupted_line(command: str, cfg: DictConfig, run_dir: Path) -> str:
    """One line after Ctrl-C/SIGTERM: what was kept and, for resumable sweeps, how to continue."""
    from hopfield_cli.cells import CELLS_FILE

    if command not in ("capacity-sweep", "metastable-scan"):
        return f"interrupted: {command} stopped; nothing half-written is left in {run_dir}"
    folder = Path(str(cfg.resume)).expanduser() if cfg.get("resume") else run_dir
    cells = 0
    try:
        with open(folder / CELLS_FILE, "rb") as fh:
            cells = sum(1 for line in fh if line.endswith(b"\n"))
    except OSError:
        pass
    return (
        f"interrupted: {cells} cell{'' if cells == 1 else 's'} kept in {folder}; resume with resume={folder}"
    )


def run_job(command: str, cfg: DictConfig, run_dir: Path, num: int, overrides: list[str]) -> dict[str, Any]:
    """One job of a multirun: run it, record ok/failed in ``job_status.json``, never raise (see above).

    A UsageError is recorded as its one line; any other Exception as ``Type: message`` with the traceback
    kept in the file, not on the console. KeyboardInterrupt still ends the sweep (status stays "running").
    """
    from hopfield_cli.output import write_json

    status_file = run_dir / JOB_STATUS_FILE
    record: dict[str, Any] = {
        "command": command,
        "job": num,
        "overrides": overrides,
        "status": "running",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_json(status_file, record)
    started = time.perf_counter()
    try:
        _experiment(command, cfg, run_dir)
    except Exception as error:  # noqa: BLE001 - a job's failure is recorded, the sweep goes on
        record.update(
            status="failed", error=error_line(error), seconds=round(time.perf_counter() - started, 3)
        )
        if not isinstance(error, UsageError):
            record["traceback"] = traceback.format_exc()
        write_json(status_file, record)
        log.error("job %d (%s) failed: %s", num, " ".join(overrides), record["error"])
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        return record
    record.update(status="ok", seconds=round(time.perf_counter() - started, 3))
    write_json(status_file, record)
    return record


def store_task(cfg: DictConfig) -> dict[str, Any] | None:
    return run_task("store", cfg)


def retrieve_task(cfg: DictConfig) -> dict[str, Any] | None:
    return run_task("retrieve", cfg)


def capacity_sweep_task(cfg: DictConfig) -> dict[str, Any] | None:
    return run_task("capacity-sweep", cfg)


def metastable_scan_task(cfg: DictConfig) -> dict[str, Any] | None:
    return run_task("metastable-scan", cfg)


TASKS: dict[str, Callable[[DictConfig], Any]] = {
    "store": store_task,
    "retrieve": retrieve_task,
    "capacity-sweep": capacity_sweep_task,
    "metastable-scan": metastable_scan_task,
}


def hydra_main(command: str, config_dir: str) -> Callable[[], None]:
    """The ``@hydra.main`` entry of ``command``, reading its primary config from ``config_dir``."""
    import hydra

    register_configs()
    return hydra.main(version_base="1.3", config_path=config_dir, config_name=command.replace("-", "_"))(
        TASKS[command]
    )
