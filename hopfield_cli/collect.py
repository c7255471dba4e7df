"""Merge the jobs of a multirun (sweep) folder into one set of tables, a summary and a figure.

A sweep folder (``multirun/DATE/TIME-<command>/``) holds ``multirun.yaml`` and one folder per job
(``0/``, ``1/``, ...), each with ``.hydra/overrides.yaml``, its tables (``<stem>.parquet``),
``summary.json`` and ``job_status.json`` (written by ``tasks.run_job``). Merging writes into the sweep
folder, each file atomically:

- ``<stem>.parquet``/``.csv`` for every table stem the jobs wrote (``results``; ``capacity`` for
  capacity-sweep; ``betas``/``fixed_points`` for metastable-scan): all jobs' rows, each with its ``job``
  number and the swept parameters as columns (a parameter the job's table already has is not repeated);
- ``summary.csv`` (and a Rich table): one row per job with its parameters, status ``ok``/``failed``/
  ``missing``, error and the headline numbers of its ``summary.json``;
- ``summary.png``: one figure of the sweep (``hopfield_cli.sweep_plots``);
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from hopfield_cli.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

JOB_STATUS_FILE = (
    "job_status.json"  # the same name as tasks.JOB_STATUS_FILE (kept apart: no torch import here)
)
SUMMARY_FILE = "summary.csv"
FIGURE_FILE = "summary.png"
STATUS_FILE = "sweep_status.json"
# Our own outputs in the sweep folder: never read back as job tables.
OWN_STEMS = {"summary"}
# summary.json entries shown first in the Rich table (prefixes); summary.csv keeps all of them.
HEADLINE_PREFIXES = ("success_rate", "capacity", "frac_", "k90", "separation", "steps_mean", "seconds")
MAX_HEADLINE_COLUMNS = 4


@dataclass
class Job:
    num: int
    overrides: list[str]
    params: dict[str, Any]
    dir: Path | None = None
    status: str = "missing"  # ok | failed | missing
    error: str = ""
    headline: dict[str, Any] = field(default_factory=dict)
    rows: int = 0

    def describe(self) -> str:
        """One line naming the job and why it is not ok."""
        what = " ".join(self.overrides) or "no overrides"
        reason = self.error or ("no folder" if self.dir is None else "not finished, no results")
        return f"job {self.num} ({what}): {self.status}: {reason}"


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


# Reports of the multiruns that ended in this process, for cli.run_hydra's exit status.
_reports: list[SweepReport] = []


def pop_reports() -> list[SweepReport]:
    reports = list(_reports)
    _reports.clear()
    return reports


class MergeCallback(Callback):
    """Hydra callback: merge the sweep folder when a multirun ends (in the process that launched it)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            report = collect_sweep(sweep_dir)
        except Exception as error:  # noqa: BLE001 - the jobs' own results are safe; say so and go on
            text = (
                f"merging failed: {type(error).__name__}: {error}; run `hopfield collect {sweep_dir}` again"
            )
            report = SweepReport(sweep_dir, "", [], [], {}, None, error=" ".join(text.split()))
        _reports.append(report)


# ---------------------------------------------------------------------------------------------- the jobs


def _parse(overrides: list[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create().parse_overrides(overrides=overrides)


def _value(override: Any) -> Any:
    """A single-valued override's typed value (1, 2.5, 'classical'); lists and dicts as their text."""
    value = override.value()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return override.get_value_element_as_str()


def expected_jobs(sweep_dir: Path) -> tuple[str, list[list[str]] | None, set[str]]:
    """The command (Hydra job name), each job's overrides in job order, and the swept keys, from multirun.yaml.

    The job list is None when it cannot be known (no multirun.yaml, or a sweeper other than the basic one).
    """
    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return "", None, set()
    cfg = OmegaConf.load(path)
    command = str(OmegaConf.select(cfg, "hydra.job.name", default="") or "")
    task = [str(o) for o in OmegaConf.select(cfg, "hydra.overrides.task", default=[]) or []]
    sweeper = str(OmegaConf.select(cfg, "hydra.sweeper._target_", default="") or "")
    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    arguments = [f"{k}={v}" for k, v in params.items()] + task
    try:
        parsed = _parse(arguments)
    except Exception:  # noqa: BLE001 - e.g. glob() sweeps need the config loader: fall back on the folders
        return command, None, set()
    swept = {o.get_key_element() for o in parsed if o.is_sweep_override()}
    if not sweeper.endswith("BasicSweeper"):
        return command, None, swept
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    batches = BasicSweeper.split_arguments(parsed, None)
    return command, [list(job) for batch in batches for job in batch], swept


def _job_folders(sweep_dir: Path) -> dict[int, Path]:
    folders: dict[int, Path] = {}
    for hydra_yaml in sorted(sweep_dir.glob("*/.hydra/hydra.yaml")):
        job_dir = hydra_yaml.parent.parent
        if job_dir.name.isdigit():
            folders[int(job_dir.name)] = job_dir
            continue
        num = OmegaConf.select(OmegaConf.load(hydra_yaml), "hydra.job.num", default=None)
        if num is not None:
            folders[int(num)] = job_dir
    for job_dir in sweep_dir.iterdir():  # a folder made before its .hydra/ was written
        if job_dir.is_dir() and job_dir.name.isdigit():
            folders.setdefault(int(job_dir.name), job_dir)
    return folders


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _headline(summary: dict[str, Any]) -> dict[str, Any]:
    """Scalars of a job's summary.json (nested dicts one level deep as ``a.b``; capacities per model)."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items() if isinstance(v, (bool, int, float, str))})
        elif key == "capacity" and isinstance(value, list):  # capacity-sweep: one record per (model, beta, d)
            records = [r for r in value if isinstance(r, dict) and "capacity" in r]
            varying = [k for k in ("beta", "dim") if len({str(r.get(k)) for r in records}) > 1]
            for r in records:
                name = "capacity." + str(r.get("model", "?")) + "".join(f"@{k}={r.get(k)}" for k in varying)
                out[name] = r["capacity"]
    return out


def scan_jobs(sweep_dir: Path) -> tuple[str, list[Job], list[str]]:
    """Every job of the sweep (expected or found), its status and parameters; and the parameter names."""
    command, expected, swept = expected_jobs(sweep_dir)
    folders = _job_folders(sweep_dir)
    count = len(expected) if expected is not None else 0
    count = max([count, *(n + 1 for n in folders)])
    jobs: list[Job] = []
    for num in range(count):
        job_dir = folders.get(num)
        overrides = expected[num] if expected is not None and num < len(expected) else []
        if job_dir is not None and (job_dir / ".hydra" / "overrides.yaml").is_file():
            overrides = [str(o) for o in OmegaConf.load(job_dir / ".hydra" / "overrides.yaml")]
        job = Job(num=num, overrides=overrides, params={}, dir=job_dir)
        try:
            job.params = {o.get_key_element(): _value(o) for o in _parse(overrides)}
        except Exception:  # noqa: BLE001 - an override we cannot type stays text
            job.params = dict(o.split("=", 1) for o in overrides if "=" in o)
        if job_dir is not None:
            status = _read_json(job_dir / JOB_STATUS_FILE) or {}
            summary = _read_json(job_dir / "summary.json")
            if status.get("status") in ("ok", "failed"):
                job.status = status["status"]
                job.error = str(status.get("error", ""))
            elif summary is not None and not status:  # finished before job_status.json existed
                job.status = "ok"
            if summary is not None:
                job.headline = _headline(summary)
        jobs.append(job)
    if not command and folders:
        first = next(iter(folders.values())) / ".hydra" / "hydra.yaml"
        if first.is_file():
            command = str(OmegaConf.select(OmegaConf.load(first), "hydra.job.name", default="") or "")
    # The parameters: keys swept in multirun.yaml, plus any key whose value differs between jobs.
    keys: list[str] = []
    for job in jobs:
        keys.extend(k for k in job.params if k not in keys)
    values = {k: {repr(j.params.get(k)) for j in jobs if j.overrides} for k in keys}
    params = [k for k in keys if k in swept or len(values[k]) > 1] or keys
    return command, jobs, params


# ---------------------------------------------------------------------------------------------- merging


def _tidy_params(frame: pd.DataFrame, params: list[str]) -> pd.DataFrame:
    """A parameter column of mixed kinds (1 and 'x') becomes text, so Parquet can store it."""
    for key in params:
        if key not in frame.columns or frame[key].dtype != object:
            continue
        kinds = {type(v) for v in frame[key] if v is not None}
        if kinds - {int, float}:
            frame[key] = [None if v is None else str(v) for v in frame[key]]
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
                frame = pd.read_parquet(path)
            except Exception as error:  # noqa: BLE001 - one unreadable table must not lose the others
                job.error = job.error or f"unreadable {path.name}: {type(error).__name__}"
                continue
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


def collect_sweep(sweep_dir: Path | str, show: bool = True) -> SweepReport:
    """Merge the sweep folder ``sweep_dir``; write the merged tables, summary and figure into it."""
    from hopfield_cli.output import atomic_write, write_json, write_table

    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise UsageError("sweep_dir", f"folder not found: {sweep_dir}")
    command, jobs, params = scan_jobs(sweep_dir)
    if not jobs:
        raise UsageError(
            "sweep_dir", f"{sweep_dir} is not a multirun folder (no multirun.yaml, no job folders)"
        )
    tables = merge_tables(jobs, params)
    summary = summary_table(jobs, params)
    for stem, frame in tables.items():
        write_table(frame, sweep_dir, stem)
    atomic_write(sweep_dir / SUMMARY_FILE, lambda tmp: summary.to_csv(tmp, index=False))
    report = SweepReport(sweep_dir, command, jobs, params, tables, summary)
    write_json(
        sweep_dir / STATUS_FILE,
        {
            "command": command,
            "jobs": len(jobs),
            "ok": sum(j.status == "ok" for j in jobs),
            "not_ok": [
                {"job": j.num, "status": j.status, "overrides": j.overrides, "error": j.error}
                for j in report.not_ok
            ],
        },
    )
    try:
        from hopfield_cli.sweep_plots import save_sweep_figure

        report.figure = save_sweep_figure(sweep_dir / FIGURE_FILE, command, tables, summary, params)
    except Exception as error:  # noqa: BLE001 - a figure is a bonus: the tables are written
        log.warning("no %s: %s: %s", FIGURE_FILE, type(error).__name__, error)
    if show:
        print_summary(report)
    return report


# ---------------------------------------------------------------------------------------------- showing


def print_summary(report: SweepReport) -> None:
    import pandas as pd
    from rich.table import Table

    from hopfield_cli.output import console, format_value

    frame = report.summary
    fixed = ["job", *report.params, "status"]
    numeric = [
        c
        for c in frame.columns
        if c not in fixed and c not in ("results_rows", "error") and pd.api.types.is_numeric_dtype(frame[c])
    ]
    headline = [c for p in HEADLINE_PREFIXES for c in numeric if c.startswith(p)]
    headline = list(dict.fromkeys(headline))[:MAX_HEADLINE_COLUMNS] or numeric[:3]
    ok = len(report.jobs) - len(report.not_ok)
    table = Table(
        title=f"{report.command or 'sweep'}: {ok} of {len(report.jobs)} jobs ok", title_justify="left"
    )
    for column in fixed + headline:  # errors: on stderr and in summary.csv
        table.add_column(column, justify="left" if column == "status" else "right", overflow="fold")
    for record in frame.to_dict("records"):
        style = None if record["status"] == "ok" else "red"
        table.add_row(*(_cell(record.get(c), format_value) for c in fixed + headline), style=style)
    console.print(table)
    written = ", ".join(f"{stem}.parquet/csv" for stem in report.tables) or "no tables"
    extra = f", {FIGURE_FILE}" if report.figure else ""
    console.print(f"merged into {report.sweep_dir}: {written}, {SUMMARY_FILE}{extra}", soft_wrap=True)


def _cell(value: Any, format_value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format_value(value)
