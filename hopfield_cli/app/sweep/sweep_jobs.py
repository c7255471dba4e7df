"""Read a multirun (sweep) folder: which jobs were expected, which ran, their status and parameters.

A sweep folder (``multirun/DATE/TIME-<command>/``) holds ``multirun.yaml`` and one folder per job (``0/``,
``1/``, ...), each with ``.hydra/overrides.yaml``, its tables, ``summary.json`` and ``job_status.json``
(written by ``app.tasks.run_job``). A job is ``missing`` when it has no folder (the job count comes from
``multirun.yaml``) or its folder has neither a finished status nor a ``summary.json`` (still running, queued or
killed). Nothing here depends on how the jobs were launched. A ``multirun.yaml``, ``overrides.yaml`` or
``hydra.yaml`` that cannot be read as what Hydra writes (not YAML, not UTF-8, a list where a mapping belongs, a
folder) is refused in one line naming the file and what deleting it would do (``load_yaml``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hopfield_cli.errors import UsageError

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


# What deleting a damaged file does, said in its one-line error.
IF_DELETED = {
    "multirun.yaml": "delete it to merge the job folders as they are",
    "overrides.yaml": "delete it to take the job's overrides from multirun.yaml",
    "hydra.yaml": "delete it to merge the job folders as they are",
}


def load_yaml(path: Path, kind: type, pick: Any = None) -> Any:
    """``path`` read as Hydra wrote it: a ``kind`` (dict or list) of plain values, then ``pick(data)``;
    a UsageError naming the file (field ``sweep_dir``) when it is damaged."""
    try:
        if not path.is_file():
            raise ValueError("not a regular file")
        data = yaml.safe_load(path.read_bytes().decode("utf-8"))
        if data is None:
            raise ValueError("empty")
        if not isinstance(data, kind):
            raise ValueError(f"a YAML {type(data).__name__}, not a {kind.__name__}")
        return pick(data) if pick is not None else data
    except Exception as exc:  # noqa: BLE001 - YAML, decoding and shape errors alike: the file is damaged
        reason = _reason(exc)
        raise UsageError(
            "sweep_dir",
            f"{path} is damaged ({reason}); restore it or {IF_DELETED.get(path.name, 'delete it')}",
        ) from None


def _reason(exc: Exception) -> str:
    """What is wrong with a file, in a few words (a YAML error: its problem and line)."""
    mark = getattr(exc, "problem_mark", None)
    if getattr(exc, "problem", None) and mark is not None:
        return f"not YAML: {exc.problem} at line {mark.line + 1}"  # type: ignore[attr-defined]
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return " ".join(str(exc).split())[:120] or type(exc).__name__


def _job_field(data: dict[str, Any], name: str) -> Any:
    """``hydra.job.<name>`` of a hydra.yaml's contents (None when absent)."""
    return ((data.get("hydra") or {}).get("job") or {}).get(name)


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise ValueError("overrides are not a list of key=value texts")
    return [str(v) for v in values]


def _multirun(data: dict[str, Any]) -> tuple[str, list[str], str, dict[str, Any]]:
    """(command, task overrides, sweeper class, sweeper params) of a multirun.yaml's contents."""
    hydra = data.get("hydra") or {}
    job, overrides, sweeper = (hydra.get(k) or {} for k in ("job", "overrides", "sweeper"))
    params = sweeper.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("hydra.sweeper.params is not a mapping")
    return (
        str(job.get("name") or ""),
        _strings(overrides.get("task") or []),
        str(sweeper.get("_target_") or ""),
        params,
    )


def expected_jobs(sweep_dir: Path) -> tuple[str, list[list[str]] | None, set[str]]:
    """The command (Hydra job name), each job's overrides in job order, and the swept keys, from multirun.yaml.

    The job list is None when it cannot be known (no multirun.yaml, or a sweeper other than the basic one).
    """
    path = sweep_dir / "multirun.yaml"
    if not (path.exists() or path.is_symlink()):
        return "", None, set()
    command, task, sweeper, params = load_yaml(path, dict, _multirun)
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
        num = load_yaml(hydra_yaml, dict, lambda d: _job_field(d, "num"))
        if isinstance(num, int):
            folders[num] = job_dir
    for job_dir in sweep_dir.iterdir():  # a folder made before its .hydra/ was written
        if job_dir.is_dir() and job_dir.name.isdigit():
            folders.setdefault(int(job_dir.name), job_dir)
    if not folders and not (sweep_dir / "multirun.yaml").exists():
        folders = dict(enumerate(single_runs(sweep_dir)))  # a folder of single runs: jobs in name order
    return folders


def single_runs(folder: Path) -> list[Path]:
    """The single-run folders in ``folder`` (``outputs/DATE/``: each with ``.hydra/`` from a run, not a sweep's
    job), in name order, which is the order they were started in."""
    runs = []
    for hydra_yaml in sorted(folder.glob("*/.hydra/hydra.yaml")):
        mode = load_yaml(hydra_yaml, dict, lambda d: (d.get("hydra") or {}).get("mode"))
        if str(mode) == "RUN":
            runs.append(hydra_yaml.parent.parent)
    return runs


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():  # absent, or a folder or FIFO in its place (reading a FIFO would wait forever)
        return None
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
    if expected is None:
        count = max([count, *(n + 1 for n in folders)])
    else:  # the sweep multirun.yaml records: a job folder beyond it is an earlier sweep's, never merged
        folders = {n: d for n, d in folders.items() if n < count}
    jobs: list[Job] = []
    for num in range(count):
        job_dir = folders.get(num)
        overrides = expected[num] if expected is not None and num < len(expected) else []
        own = None if job_dir is None else job_dir / ".hydra" / "overrides.yaml"
        foreign = False
        if own is not None and (own.exists() or own.is_symlink()):
            found = load_yaml(own, list, _strings)
            foreign = expected is not None and sorted(found) != sorted(overrides)
            overrides = overrides if foreign else found
        job = Job(num=num, overrides=overrides, params={}, dir=None if foreign else job_dir)
        if foreign:  # the folder holds another sweep's job of that number: its rows are not this sweep's
            job.error = f"{job_dir} holds a job of another sweep ({' '.join(found)})"
            job_dir = None
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
            command = str(load_yaml(first, dict, lambda d: _job_field(d, "name")) or "")
    # The parameters: keys swept in multirun.yaml, plus any key whose value differs between jobs.
    keys: list[str] = []
    for job in jobs:
        keys.extend(k for k in job.params if k not in keys)
    values = {k: {repr(j.params.get(k)) for j in jobs if j.overrides} for k in keys}
    params = [k for k in keys if k in swept or len(values[k]) > 1] or keys
    return command, jobs, params
