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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hopfield_cli.app.commands import Command
from hopfield_cli.config import option_text
from hopfield_cli.report.console import output_log

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
