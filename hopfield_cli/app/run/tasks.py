"""What Hydra runs: the one wrapper between the launch and a command's ``run``, which owns its log and errors.

    launch.run_once --(Hydra's run_job)--> run_single --> command.run     (a single run)
    Hydra's launcher --------------------> run_job    --> command.run     (each job of a multirun)

A single run (``run_single``) gets the config that ``launch`` composed and checked once. A multirun job
(``run_job``, handed to the launcher as ``functools.partial(run_job, command)``, which pickles) checks its own
config, because it may run in another process or on another machine. Both open the run's log and provenance,
say the command line and config, run ``experiment`` (resources, trackers, the disk and memory errors as one
line) and end with the results folder. One job's failure must not end the sweep:
Hydra's BasicSweeper re-raises a job's exception after the batch (the other batches and the merge would never
run) and does not catch SystemExit at all. So a job records ``ok``/``failed`` in ``<job dir>/job_status.json``
and returns normally; the merge (``app/merge``) names the failed jobs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from hopfield_cli.app.check.compose import quiet_launcher_schema_warning
from hopfield_cli.app.commands import COMMANDS, Command
from hopfield_cli.app.run.logs import config_summary, job_log, results_folder
from hopfield_cli.app.run.run_folder import os_error, remove_stub, work_folder_lock
from hopfield_cli.app.sweep.objective import read_metric
from hopfield_cli.config import register_configs
from hopfield_cli.errors import CapacityError, UsageError
from hopfield_cli.report.console import output_log, say
from hopfield_cli.report.files import provenance

log = logging.getLogger(__name__)

# Here, at import, because joblib and submitit workers compose each job's config after unpickling a task.
quiet_launcher_schema_warning()
register_configs()  # the schemas and ${sample_images:}, for the same reason

JOB_STATUS_FILE = "job_status.json"


def field_of_param(param: str) -> str:
    """The config field that sets a core parameter (core errors name parameters, not fields): a family's own
    (``model.<field>``, from the registry ``core.models.FAMILIES``), or the parameter itself (beta, patterns)."""
    from hopfield_cli.core.models import config_field

    field = config_field(param)
    return f"model.{field}" if field is not None else param


def as_usage_error(exc: BaseException) -> UsageError | None:
    """A core error, or running out of memory, as the one-line error that names the field; else None."""
    from hopfield_cli.core.errors import BudgetError, CoreError

    if isinstance(exc, UsageError):
        return exc
    if isinstance(exc, BudgetError):
        return CapacityError(field_of_param(exc.param), exc.message)
    if isinstance(exc, CoreError):
        return UsageError(field_of_param(exc.param), exc.message)
    text = " ".join(str(exc).split())
    out_of_memory = ("out of memory", "can't allocate memory", "cannot allocate memory")
    if isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError) and any(m in text.lower() for m in out_of_memory)
    ):
        return CapacityError("memory", f"ran out of memory during the run ({text[:200]}); use smaller sizes")
    return None


def error_line(error: BaseException) -> str:
    """One line for an error: ``field: message`` for a UsageError, ``Type: message`` otherwise."""
    if isinstance(error, UsageError):
        return f"{error.field}: {error.message}"
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def experiment(command: Command, typed: Any, run_dir: Path) -> Any:
    """The experiment, holding a resumed sweep's folder; a disk error (full, ``ulimit -f``, immutable file)
    becomes one line naming the field of the folder or file."""
    from hopfield_cli.app.run.trackers import tracking
    from hopfield_cli.report.figure_format import figure_settings

    results = results_folder(command, typed, run_dir)
    try:
        with work_folder_lock(typed):
            show_resources(typed)
            figures = getattr(typed, "figures", None)
            with (
                figure_settings(figures.format, figures.dpi) if figures else nullcontext(),
                tracking(command.name, typed, run_dir, results),  # logger=...: the run's trackers
            ):
                return command.run(typed, run_dir)
    except OSError as exc:
        raise os_error(exc, typed, run_dir, command.resumable) from None
    except (MemoryError, RuntimeError, ValueError) as exc:
        usage = as_usage_error(exc)
        if usage is None:
            raise
        raise usage from None


def show_resources(typed: Any) -> None:
    """Set ``threads=``, then show the device, dtype and threads the run uses (and a GPU it cannot use) on
    screen and in the log, and hand them to the run's provenance (summary.json, run_info.json, Parquet)."""
    from hopfield_cli.app.check import resources
    from hopfield_cli.report.console import say
    from hopfield_cli.report.files import add_provenance

    resources.set_threads(getattr(typed, "threads", None))
    warning = resources.gpu_warning(getattr(typed, "device", None))
    if warning is not None:
        say(warning, err=True)
    info = resources.describe(typed)
    add_provenance(resources=info)
    say(resources.line(info))


def run_single(command: Command, typed: Any, created: Path | None = None) -> None:
    """Run one experiment in Hydra's run folder, with its log; a usage error or an interrupt ends in one line.

    The log gets the command line and config summary first, the results folder last, and the one-line error
    or "interrupted" of a run that ends early. A usage error found only now (in the data, or a full disk)
    leaves no stub run folder: ``remove_stub`` removes what Hydra made, and ``created`` (the topmost folder
    this run created) if it is left empty.
    """
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    full = os.environ.get("HYDRA_FULL_ERROR") == "1"
    logging.raiseExceptions = False  # a log file on a full disk must not print a traceback per line
    config = dataclasses.asdict(typed)
    with job_log(run_dir), provenance(command.name, config, config.get("seed")):
        say(" ".join(["hopfield", command.name, *hydra_cfg.overrides.task]))
        say(config_summary(command, typed))
        try:
            with terminate_as_interrupt():
                experiment(command, typed, run_dir)
        except UsageError as error:
            output_log.info("error: %s: %s", error.field, error.message)
            if full:
                raise
            remove_stub(run_dir, str(hydra_cfg.job.name), created)
            print(f"error: {error_line(error)}", file=sys.stderr)
            raise SystemExit(error.exit_code) from None
        except KeyboardInterrupt as stop:
            output_log.info("interrupted")
            if full:
                raise
            signum = stop.args[0] if stop.args and isinstance(stop.args[0], int) else signal.SIGINT
            print(interrupted_line(command, typed, run_dir), file=sys.stderr)
            raise SystemExit(128 + int(signum)) from None
        folder = results_folder(command, typed, run_dir)
        metric = getattr(typed, "optimized_metric", None)
        if metric:
            try:
                say(f"objective: {metric} = {read_metric(folder, metric):.6g}")
            except UsageError as error:  # the results are written; the key names no number in them
                say(f"error: {error.field}: {error.message}", err=True)
                raise SystemExit(error.exit_code) from None
        say(f"results in {folder}")


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """While a run lasts, SIGTERM (a scheduler's kill, ``kill PID``) unwinds like Ctrl-C: KeyboardInterrupt
    carrying the signal number, so temporary files are removed and a one-line report is printed.

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


def interrupted_line(command: Command, typed: Any, run_dir: Path) -> str:
    """One line after Ctrl-C/SIGTERM: what was kept and, for resumable sweeps, how to continue."""
    from hopfield_cli.experiments.resume import count_cells

    if not command.resumable:
        return f"interrupted: {command.name} stopped; nothing half-written is left in {run_dir}"
    folder = results_folder(command, typed, run_dir)
    cells = count_cells(folder)
    return (
        f"interrupted: {cells} cell{'' if cells == 1 else 's'} kept in {folder}; resume with resume={folder}"
    )


def run_job(command_name: str, cfg: DictConfig) -> Any:
    """One job of a multirun, with its log: check, run, record ok/failed in ``job_status.json``; never raise
    (see above). Picklable through ``functools.partial``.

    A UsageError is recorded as its one line; any other Exception as ``Type: message`` with the traceback
    kept in the file, not on the console. KeyboardInterrupt still ends the sweep (status stays "running").
    Returns the job's record, or with ``optimized_metric=`` its objective (None when the job failed): the
    number Hydra's Optuna sweeper optimises.
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    from hopfield_cli.app.check.preflight import checked

    logging.raiseExceptions = False  # a log file on a full disk must not print a traceback per line
    hydra_cfg = HydraConfig.get()
    command = COMMANDS[command_name]
    run_dir = Path(hydra_cfg.runtime.output_dir)
    num, overrides = int(hydra_cfg.job.num), list(hydra_cfg.overrides.task)
    config = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k != "hydra"}
    status_file = run_dir / JOB_STATUS_FILE
    record: dict[str, Any] = {
        "command": command_name,
        "job": num,
        "overrides": overrides,
        "status": "running",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with job_log(run_dir), provenance(command_name, config, config.get("seed")):
        say(f"hopfield {command_name}, job {num}: {' '.join(overrides)}")
        _record(status_file, record)
        started, typed = time.perf_counter(), None
        try:
            with _stopped_by_scancel(command, run_dir, num):
                typed = checked(command, cfg)
                experiment(command, typed, run_dir)
        except Exception as error:  # noqa: BLE001 - a job's failure is recorded, the sweep goes on
            record.update(
                status="failed", error=error_line(error), seconds=round(time.perf_counter() - started, 3)
            )
            if not isinstance(error, UsageError):
                record["traceback"] = traceback.format_exc()
            _record(status_file, record)
            log.error("job %d (%s) failed: %s", num, " ".join(overrides), record["error"])
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
        else:
            record.update(status="ok", seconds=round(time.perf_counter() - started, 3))
            _record(status_file, record)
        say(f"job {num}: {record['status']}; results in {run_dir}")
        metric = config.get("optimized_metric")
        if metric:
            return _job_objective(
                command, typed if record["status"] == "ok" else None, run_dir, record, metric
            )
    return record


def _job_objective(
    command: Command, typed: Any, run_dir: Path, record: dict[str, Any], metric: str
) -> float | None:
    """The job's ``optimized_metric`` read from its summary.json, said in its log; None for a failed job
    (``typed`` None)."""
    if typed is None:
        return None
    try:
        value = read_metric(results_folder(command, typed, run_dir), metric)
    except UsageError as error:
        say(f"error: {error.field}: {error.message}", err=True)
        return None
    say(f"job {record.get('job')}: objective {metric} = {value:.6g}")
    return value


@contextmanager
def _stopped_by_scancel(command: Command, run_dir: Path, num: int) -> Iterator[None]:
    """In a SLURM job, SIGTERM (``scancel``, or the time limit) stops the job at once, its finished cells kept.

    submitit lets a job ignore SIGTERM (SLURM sends SIGKILL ``KillWait`` seconds later, 30 by default), so a
    cancelled job would otherwise compute, and write cells, for that long after ``scancel``. The job ends with
    exit status 143 and one line in its log; its status stays "running", so the merge reports it as missing
    and a re-run of the sweep computes only what is missing. Elsewhere (basic, joblib, submitit_local) nothing
    changes.
    """
    if os.environ.get("SUBMITIT_EXECUTOR") != "slurm":
        yield
        return
    try:
        with terminate_as_interrupt():
            yield
    except KeyboardInterrupt as stop:
        from hopfield_cli.experiments.resume import count_cells

        signum = stop.args[0] if stop.args and isinstance(stop.args[0], int) else signal.SIGINT
        kept = f"{count_cells(run_dir)} cells kept in {run_dir}" if command.resumable else "no results"
        print(
            f"job {num} stopped by signal {int(signum)}: {kept}; re-run the sweep to finish it",
            file=sys.stderr,
        )
        raise SystemExit(128 + int(signum)) from None


def _record(status_file: Path, record: dict[str, Any]) -> None:
    """Write ``job_status.json``; on a full disk say so in the sweep's log (the merge then reports the job
    as missing) instead of ending the whole sweep."""
    from hopfield_cli.report.files import write_json

    try:
        write_json(status_file, record)
    except OSError as exc:
        log.error("job %s: cannot write %s: %s", record.get("job"), status_file, exc.strerror or exc)
