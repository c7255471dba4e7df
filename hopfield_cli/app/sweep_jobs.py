"""Read a multirun (sweep) folder: which jobs were expected, which ran, their status and parameters.

A sweep folder (``multirun/DATE/TIME-<command>/``) holds ``multirun.yaml`` and one folder per job (``0/``,
``1/``, ...), each with ``.hydra/overrides.yaml``, its tables, ``summary.json`` and ``job_status.json``
(written by ``app.tasks.run_job``). A job is ``missing`` when it has no folder (the job count comes from
``multirun.yaml``) or its folder has neither a finished status nor a ``summary.json`` (still running, queued or
killed). Nothing here depends on how the jobs were launched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

JOB_STATUS_FILE = "job_status.json"  # written by app.tasks.run_job


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
