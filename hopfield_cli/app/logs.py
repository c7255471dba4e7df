"""The run's log and provenance: what a run prints is also kept in its ``<run folder>/<command>.log``, and
every table it writes carries its config, seed and versions (``report.files.provenance``).

Hydra opens ``<run folder>/<job name>.log`` for the root logger; ``job_log`` adds a plain handler on the
same file for ``report.console``'s output logger, so the log holds what the console showed, in the order it
showed it: the config summary, progress lines (a heartbeat every 30 s naming the cell in flight), the
tables, warnings, the one-line error of a failed run and, last, the folder the results are in. Library log
noise (``matplotlib.font_manager`` INFO on a first run, PIL's plugin list) is kept out of both.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hopfield_cli.app.commands import COMMANDS, Command
from hopfield_cli.app.objective import read_metric
from hopfield_cli.app.tasks import run_job  # at import: a launcher's worker unpickles ``logged_job`` first
from hopfield_cli.config import option_text
from hopfield_cli.errors import UsageError
from hopfield_cli.report.console import output_log, say
from hopfield_cli.report.files import provenance

# Loggers of libraries that talk at INFO about themselves, not about the run.
NOISY_LIBRARIES = ("matplotlib", "PIL", "fsspec", "numexpr", "h5py", "asyncio")


def quiet_libraries() -> None:
    for name in NOISY_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def _log_file(run_dir: Path) -> Path:
    """The file Hydra logs to for this run (``<run folder>/<job name>.log``)."""
    for handler in logging.getLogger().handlers:
        path = Path(getattr(handler, "baseFilename", "") or ".")
        if isinstance(handler, logging.FileHandler) and path.parent == run_dir.resolve():
            return path
    from hydra.core.hydra_config import HydraConfig

    return run_dir / f"{HydraConfig.get().job.name}.log"


@contextmanager
def job_log(run_dir: Path) -> Iterator[Path]:
    """While the run lasts, everything ``report.console`` shows is appended to the run's log as plain text."""
    quiet_libraries()
    path = _log_file(Path(run_dir))
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    output_log.addHandler(handler)
    output_log.setLevel(logging.INFO)
    try:
        yield path
    finally:
        output_log.removeHandler(handler)
        handler.close()


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_shown(v) for v in value) + "]"
    return str(value)


def config_summary(command: Command, typed: Any) -> str:
    """One line: the command, each group's option with its fields, the fields that differ from the schema's
    defaults (capacity-sweep: also the changed settings of the families it runs), and the seed."""
    parts, changed = [], []
    defaults = command.schema()
    for f in dataclasses.fields(typed):
        value = getattr(typed, f.name)
        if f.name == "families":
            for family in dict.fromkeys(getattr(typed, "models", [])):
                own, default = getattr(value, family), getattr(defaults.families, family)
                changed += [
                    f"families.{family}.{g.name}={_shown(getattr(own, g.name))}"
                    for g in dataclasses.fields(own)
                    if getattr(own, g.name) != getattr(default, g.name)
                ]
        elif dataclasses.is_dataclass(value) and not hasattr(value, "name"):  # logger, figures: what is set
            chosen = [g.name for g in dataclasses.fields(value) if getattr(value, g.name) is not None]
            if f.name == "logger" and chosen:
                changed.append(f"logger=[{','.join(chosen)}]")
            elif f.name != "logger":
                default = getattr(defaults, f.name)
                changed += [
                    f"{f.name}.{g.name}={_shown(getattr(value, g.name))}"
                    for g in dataclasses.fields(value)
                    if getattr(value, g.name) != getattr(default, g.name)
                ]
        elif dataclasses.is_dataclass(value):
            parts.append(f"{f.name}={option_text(value)}")
        elif f.name != "seed" and value != getattr(defaults, f.name, None):
            changed.append(f"{f.name}={_shown(value)}")
    seed = f" seed={typed.seed}" if hasattr(typed, "seed") else ""
    return "config: " + " ".join(parts + changed) + seed


def results_folder(command: Command, typed: Any, run_dir: Path) -> Path:
    """Where the results are: the resumed folder of a resumable sweep, else the run folder."""
    resume = getattr(typed, "resume", None) if command.resumable else None
    return Path(str(resume)).expanduser() if resume else run_dir


def _logging_errors(run: Callable[[Any, Path], Any]) -> Callable[[Any, Path], Any]:
    """``run``, with a usage error or an interrupt also written to the log (the console line comes from
    ``tasks.run_single``)."""

    def logged(typed: Any, run_dir: Path) -> Any:
        try:
            return run(typed, run_dir)
        except UsageError as error:
            output_log.info("error: %s: %s", error.field, error.message)
            raise
        except KeyboardInterrupt:
            output_log.info("interrupted")
            raise

    return logged


def run_logged(command: Command, typed: Any, run_single: Callable[..., None], *args: Any) -> None:
    """A single run (``tasks.run_single(command, typed, *args)``) with its log: the command line and config
    summary first, the results folder last."""
    from hydra.core.hydra_config import HydraConfig

    run_dir = Path(HydraConfig.get().runtime.output_dir)
    config = dataclasses.asdict(typed)
    with job_log(run_dir), provenance(command.name, config, config.get("seed")):
        say(" ".join(["hopfield", command.name, *HydraConfig.get().overrides.task]))
        say(config_summary(command, typed))
        run_single(dataclasses.replace(command, run=_logging_errors(command.run)), typed, *args)
        folder = results_folder(command, typed, run_dir)
        metric = getattr(typed, "optimized_metric", None)
        if metric:
            try:
                say(f"objective: {metric} = {read_metric(folder, metric):.6g}")
            except UsageError as error:  # the results are written; the key names no number in them
                say(f"error: {error.field}: {error.message}", err=True)
                raise SystemExit(error.exit_code) from None
        say(f"results in {folder}")


def logged_job(command_name: str, cfg: Any) -> Any:
    """One job of a multirun (``tasks.run_job``) with its log; picklable through ``functools.partial``.

    Returns the job's record, or with ``optimized_metric=`` its objective (None when the job failed): the
    number Hydra's Optuna sweeper optimises."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    config = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k != "hydra"}
    with job_log(run_dir), provenance(command_name, config, config.get("seed")):
        say(f"hopfield {command_name}, job {hydra_cfg.job.num}: {' '.join(hydra_cfg.overrides.task)}")
        record = run_job(command_name, cfg)
        say(f"job {record.get('job')}: {record.get('status')}; results in {run_dir}")
        metric = config.get("optimized_metric")
        if metric:
            return job_objective(command_name, config, run_dir, record, str(metric))
    return record


def job_objective(
    command_name: str, config: dict[str, Any], run_dir: Path, record: dict[str, Any], metric: str
) -> float | None:
    """The job's ``optimized_metric`` read from its summary.json, said in its log; None for a failed job."""
    if record.get("status") != "ok":
        return None
    command = COMMANDS[command_name]
    resume = config.get("resume") if command.resumable else None
    folder = Path(str(resume)).expanduser() if resume else run_dir
    try:
        value = read_metric(folder, metric)
    except UsageError as error:
        say(f"error: {error.field}: {error.message}", err=True)
        return None
    say(f"job {record.get('job')}: objective {metric} = {value:.6g}")
    return value
