"""Merge the jobs of a multirun (sweep) folder into one set of tables, a summary and a figure.

A sweep folder (``multirun/DATE/TIME-<command>/``) holds ``multirun.yaml`` and one folder per job
(``0/``, ``1/``, ...), each with ``.hydra/overrides.yaml``, its tables (``<stem>.parquet``),
``summary.json`` and ``job_status.json`` (written by ``app.tasks.run_job``). Merging writes into the sweep
folder, each file atomically:

- ``<stem>.parquet``/``.csv`` for every table stem the jobs wrote (``results``; ``capacity`` for
  capacity-sweep; ``betas``/``fixed_points`` for metastable-scan): all jobs' rows, each with its ``job``
  number and the swept parameters as columns (a parameter the job's table already has is not repeated);
- ``summary.csv`` (and a Rich table): one row per job with its parameters, status ``ok``/``failed``/
  ``missing``, error and the headline numbers of its ``summary.json``;
- ``summary.png``: one figure of the sweep (``hopfield_cli.report.sweep_figures``);
- ``sweep_status.json``: the jobs that did not finish, for scripts.

A job is ``missing`` when it has no folder (the job count comes from ``multirun.yaml``) or its folder has
neither a finished status nor a ``summary.json`` (still running, queued or killed); rows it already wrote
are merged anyway. Nothing here depends on how the jobs were launched.

``MergeCallback`` runs this at the end of every multirun (registered in each primary config's
``hydra.callbacks``); ``hopfield collect <folder>`` runs it on demand.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from hopfield_cli.app.sweep.sweep_jobs import Job, scan_jobs
from hopfield_cli.errors import UsageError
from hopfield_cli.report.files import write_json

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

SUMMARY_FILE = "summary.csv"
FIGURE_FILE = "summary.png"
STATUS_FILE = "sweep_status.json"
# Our own outputs in the sweep folder: never read back as job tables.
OWN_STEMS = {"summary"}
# summary.json entries shown first in the Rich table (prefixes); summary.csv keeps all of them.
HEADLINE_PREFIXES = ("success_rate", "capacity", "frac_", "k90", "separation", "steps_mean", "seconds")
MAX_HEADLINE_COLUMNS = 4


@dataclass
class SweepReport:
    sweep_dir: Path
    command: str
    jobs: list[Job]
    params: list[str]
    tables: dict[str, pd.DataFrame]
    summary: pd.DataFrame | None
    figure: Path | None = None
    error: str = ""  # set when the merge itself failed (the jobs' own folders are untouched)

    @property
    def not_ok(self) -> list[Job]:
        return [j for j in self.jobs if j.status != "ok"]


class MergeCallback(Callback):
    """Hydra callback: merge the sweep folder when a multirun ends (in the process that launched it).

    The outcome reaches ``hopfield`` through ``sweep_status.json`` in the sweep folder (``read_outcome``).
    """

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from omegaconf import OmegaConf

        from hopfield_cli.report.figure_format import figure_settings

        sweep_dir = Path(str(config.hydra.sweep.dir))
        fmt = OmegaConf.select(config, "figures.format", default=None) or "png"
        try:
            with figure_settings(str(fmt), OmegaConf.select(config, "figures.dpi", default=None)):
                collect_sweep(sweep_dir)
        except Exception as error:  # noqa: BLE001 - the jobs' own results are safe; say so and go on
            text = (
                f"merging failed: {type(error).__name__}: {error}; run `hopfield collect {sweep_dir}` again"
            )
            try:
                write_json(sweep_dir / STATUS_FILE, {"error": " ".join(text.split())})
            except OSError:  # a full disk: the sweep's outcome then says sweep_status.json is missing
                log.error("%s", text)


def _why(job: Job) -> str:
    return "no folder" if job.dir is None else "not finished, no results"


def read_outcome(sweep_dir: Path) -> list[str]:
    """One line per job that failed or is missing, and a last line counting them; empty when all are ok."""

    try:
        status = json.loads((sweep_dir / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return [f"{sweep_dir}: no {STATUS_FILE}; run `hopfield collect {sweep_dir}`"]
    if not isinstance(status, dict):
        return [f"{sweep_dir / STATUS_FILE} is damaged; run `hopfield collect {sweep_dir}`"]
    if status.get("error"):
        return [f"{sweep_dir}: {status['error']}"]
    not_ok = status.get("not_ok") or []
    if not not_ok:
        return []
    lines = [
        f"job {j.get('job')} ({' '.join(j.get('overrides') or []) or 'no overrides'}): {j.get('status')}: "
        f"{j.get('error')}"
        for j in not_ok
    ]
    lines.append(
        f"{len(not_ok)} of {status.get('jobs')} jobs not ok; the others' results are merged in {sweep_dir}"
    )
    return lines


# ---------------------------------------------------------------------------------------------- merging


def _tidy_params(frame: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """A column of mixed kinds (1 and 'x': a parameter, or a column whose dtype differs between jobs) becomes
    text, numbers of mixed kinds become floats, so Parquet can store the merged table."""
    for key in dict.fromkeys([*params, *frame.columns]):
        if key not in frame.columns or frame[key].dtype != object:
            continue
        values = [v for v in frame[key] if v is not None and not (isinstance(v, float) and v != v)]
        kinds = {type(v) for v in values}
        if not kinds or kinds <= {str}:
            continue
        if kinds - {int, float}:
            frame[key] = [
                None if v is None or (isinstance(v, float) and v != v) else str(v) for v in frame[key]
            ]
        else:
            frame[key] = frame[key].astype(float)
    return frame


def merge_tables(jobs: list[Job], params: list[str]) -> dict[str, pd.DataFrame]:
    """Every table stem the jobs wrote, concatenated in job order with ``job`` + parameter columns."""
    import pandas as pd

    parts: dict[str, list[pd.DataFrame]] = {}
    for job in jobs:
        if job.dir is None:
            continue
        for path in sorted(job.dir.glob("*.parquet")):
            stem = path.name[: -len(".parquet")]
            if stem.startswith(".") or stem in OWN_STEMS:
                continue
            try:
                if not path.is_file():  # a folder or FIFO of that name (reading a FIFO would wait forever)
                    raise OSError("not a regular file")
                frame = pd.read_parquet(path)
            except Exception as error:  # noqa: BLE001 - one unreadable table must not lose the others
                job.status = "failed"  # its rows are missing from the merge: never "ok"
                words = " ".join(f"{type(error).__name__}: {error}".split())[:160]
                job.error = job.error or f"unreadable {path.name}: {words}"
                continue
            if "job" in frame.columns:  # the job's own column of that name: kept, beside ours
                frame = frame.rename(columns={"job": f"{stem}_job"})
            columns = {"job": job.num}
            columns.update({k: job.params.get(k) for k in params if k not in frame.columns})
            front = pd.DataFrame({k: [v] * len(frame) for k, v in columns.items()}, index=frame.index)
            parts.setdefault(stem, []).append(pd.concat([front, frame], axis=1))
            if stem == "results":
                job.rows = len(frame)
    tables = {}
    for stem, frames in parts.items():
        merged = pd.concat(frames, ignore_index=True, sort=False)
        tables[stem] = _tidy_params(merged, params)
    return tables


def summary_table(jobs: list[Job], params: list[str]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for job in jobs:
        row: dict[str, Any] = {"job": job.num}
        row.update({k: job.params.get(k) for k in params})
        row["status"] = job.status
        row["results_rows"] = job.rows
        row.update({k: v for k, v in job.headline.items() if k not in row})
        row["error"] = job.error if job.status != "ok" else ""
        rows.append(row)
    frame = pd.DataFrame(rows)
    error = frame.pop("error")
    frame["error"] = error  # last: the widest column
    return _tidy_params(frame, params)


MAX_LOOKED_AT = 1000  # entries of a folder looked at to tell a sweep folder from a folder of sweep folders


def refuse_parent(folder: Path) -> None:
    """A folder with no ``multirun.yaml`` and no job folders of its own, but sweep folders inside (the parent
    of a sweep folder, ``multirun/DATE``): refused in one line naming them, before any scan."""
    if (folder / "multirun.yaml").exists():
        return
    import itertools

    sweeps, jobs = [], False
    try:
        for child in itertools.islice(folder.iterdir(), MAX_LOOKED_AT):
            if child.name.isdigit() and (child / ".hydra").is_dir():
                jobs = True
            elif (child / "multirun.yaml").is_file():
                sweeps.append(child)
    except OSError as exc:
        raise UsageError("sweep_dir", f"cannot list {folder}: {exc.strerror or exc}") from None
    if jobs:
        return
    from hopfield_cli.app.sweep.sweep_jobs import single_runs

    if not sweeps and single_runs(folder):  # a folder of single runs (outputs/DATE): merged as jobs
        return
    if sweeps:
        names = ", ".join(str(p) for p in sorted(sweeps)[:3]) + (", ..." if len(sweeps) > 3 else "")
        raise UsageError(
            "sweep_dir",
            f"{folder} is not a sweep folder but holds {len(sweeps)}: collect one of them ({names})",
        )
    raise UsageError("sweep_dir", f"{folder} is not a multirun folder (no multirun.yaml, no job folders)")


def collect_sweep(sweep_dir: Path | str, show: bool = True) -> SweepReport:
    """Merge the sweep folder ``sweep_dir``; write the merged tables, summary and figure into it."""
    from hopfield_cli.report.files import atomic_write, write_table

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UsageError("sweep_dir", f"folder not found: {sweep_dir}")
    refuse_parent(sweep_dir)
    command, jobs, params = scan_jobs(sweep_dir)
    if not jobs:
        raise UsageError(
            "sweep_dir", f"{sweep_dir} is not a multirun folder (no multirun.yaml, no job folders)"
        )
    tables = merge_tables(jobs, params)
    summary = summary_table(jobs, params)
    report = SweepReport(sweep_dir, command, jobs, params, tables, summary)
    try:  # each file atomically: a full disk or an immutable file leaves the old one and ends in one line
        for stem, frame in tables.items():
            write_table(frame, sweep_dir, stem)
        atomic_write(sweep_dir / SUMMARY_FILE, lambda tmp: summary.to_csv(tmp, index=False))
        write_json(
            sweep_dir / STATUS_FILE,
            {
                "command": command,
                "jobs": len(jobs),
                "ok": sum(j.status == "ok" for j in jobs),
                "not_ok": [
                    {"job": j.num, "status": j.status, "overrides": j.overrides, "error": j.error or _why(j)}
                    for j in report.not_ok
                ],
            },
        )
    except OSError as exc:
        raise UsageError(
            "sweep_dir", f"{exc.filename}: {exc.strerror or exc}; the jobs' own folders are intact"
        ) from None
    try:
        from hopfield_cli.report.sweep_figures import save_sweep_figure

        report.figure = save_sweep_figure(sweep_dir / FIGURE_FILE, command, tables, summary, params)
    except Exception as error:  # noqa: BLE001 - a figure is a bonus: the tables are written
        log.warning("no %s: %s: %s", FIGURE_FILE, type(error).__name__, error)
    if show:
        print_summary(report)
    return report


# ---------------------------------------------------------------------------------------------- showing


def print_summary(report: SweepReport) -> None:
    """One row per job, kept whole at 80 columns: a capacity sweep's capacity per model, else the headline
    numbers of each job's summary.json (errors: on stderr and in summary.csv)."""
    import pandas as pd

    from hopfield_cli.report import sweep_tables
    from hopfield_cli.report.console import say, show

    frame = report.summary
    ok = len(report.jobs) - len(report.not_ok)
    title = f"{report.command or 'sweep'}: {ok} of {len(report.jobs)} jobs ok"
    capacity = report.tables.get("capacity")
    if capacity is not None and {"job", "model", "beta", "dim", "capacity"} <= set(capacity.columns):
        threshold = (
            capacity["threshold"].iloc[0] if "threshold" in capacity.columns and len(capacity) else None
        )
        show(sweep_tables.capacity_table(title, capacity, frame, report.params, threshold))
    else:
        fixed = ["job", *report.params, "status"]
        numeric = [
            c
            for c in frame.columns
            if c not in fixed
            and c not in ("results_rows", "error")
            and pd.api.types.is_numeric_dtype(frame[c])
        ]
        headline = [c for p in HEADLINE_PREFIXES for c in numeric if c.startswith(p)]
        headline = list(dict.fromkeys(headline))[:MAX_HEADLINE_COLUMNS] or numeric[:3]
        show(sweep_tables.job_table(title, frame, fixed, headline))
    written = ", ".join(f"{stem}.parquet/csv" for stem in report.tables) or "no tables"
    extra = f", {FIGURE_FILE}" if report.figure else ""
    say(f"merged into {report.sweep_dir}: {written}, {SUMMARY_FILE}{extra}")
