"""Experiment trackers (``logger=csv|tensorboard|mlflow|wandb``, several at once): each run reports its config,
tags and name when it starts, then, once its files are written, its per-epoch or per-cell metrics, its final
summary and its figures and tables (as artifacts where the tracker keeps files).

The run's own files are the one source: ``summary.json`` (its numbers, nested ones dotted), a table with a step
column (train: one row per epoch and split; metastable-scan: one per beta; capacity-sweep: one success rate per
cell, stepped by N) and the figures and tables in its folder. So every command is tracked the same way, a
multirun job included (each job is a tracker run of its own). Each tracker's library is an optional extra,
refused in one line naming it when absent (``check_available``, before any work).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hopfield_cli.errors import UsageError

# tracker -> (module to import, the extra that installs it)
LIBRARIES = {
    "tensorboard": ("tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
}
ARTIFACT_SUFFIXES = (".png", ".pdf", ".svg", ".csv", ".parquet", ".json", ".md", ".html", ".yaml")
MAX_PARAM_CHARS = 500  # MLflow refuses longer parameter values


def chosen(typed: Any) -> list[str]:
    loggers = getattr(typed, "logger", None)
    if loggers is None:
        return []
    return [f.name for f in dataclasses.fields(loggers) if getattr(loggers, f.name) is not None]


def check_available(typed: Any) -> None:
    """Each chosen tracker's library is installed; else one line naming the extra."""
    for name in chosen(typed):
        module, extra = LIBRARIES.get(name, (None, None))
        if module is not None and importlib.util.find_spec(module) is None:
            raise UsageError("logger", f"{name} needs the {extra} extra: pip install 'hopfield-cli[{extra}]'")


def flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """A nested config or summary as dotted keys (lists as text)."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flat(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def summary_numbers(folder: Path) -> dict[str, float]:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        k: float(v)
        for k, v in flat(summary).items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def step_metrics(command: str, folder: Path) -> list[tuple[int, dict[str, float]]]:
    """(step, metrics) per epoch (train), per beta (metastable-scan) or per N (capacity-sweep)."""
    import pandas as pd

    def read(stem: str) -> pd.DataFrame | None:
        path = folder / f"{stem}.parquet"
        return pd.read_parquet(path) if path.is_file() else None

    from hopfield_cli.app.commands import COMMANDS

    tables = COMMANDS[command].tables if command in COMMANDS else ()
    table = read(tables[0]) if tables else None  # the command's main table: one row per measured unit
    steps: dict[int, dict[str, float]] = {}
    if table is None:
        return []
    if command == "train" and "epoch" in table:
        for _, row in table.iterrows():
            split = f"{row['split']}/" if "split" in table else ""
            numeric = {f"{split}{k}": float(v) for k, v in row.items() if _number(v) and k != "epoch"}
            steps.setdefault(int(row["epoch"]), {}).update(numeric)
    elif command == "metastable-scan":
        for i, row in table.reset_index(drop=True).iterrows():
            steps[int(i)] = {str(k): float(v) for k, v in row.items() if _number(v)}
    elif command == "capacity-sweep" and "success_rate" in table:
        keys = [k for k in ("model", "beta", "dim") if k in table]
        varying = [k for k in keys if table[k].nunique(dropna=False) > 1 or k == "model"]
        for values, part in table.groupby([*keys, "num_patterns"], dropna=False):
            label = dict(zip([*keys, "num_patterns"], values, strict=True))
            name = "success_rate/" + "_".join(
                f"{label[k]}" if k == "model" else f"{k}{label[k]:g}" for k in varying
            )
            steps.setdefault(int(label["num_patterns"]), {})[name] = float(part["success_rate"].mean())
    return sorted(steps.items())


def _number(value: Any) -> bool:
    import math

    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def artifacts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in ARTIFACT_SUFFIXES)


# --- the trackers --------------------------------------------------------------------------------------------


class CsvTracker:
    """``<save_dir>/params.yaml`` (config, tags, name) and ``<save_dir>/metrics.csv`` (step, metric, value)."""

    def __init__(self, options: Any, run_dir: Path, name: str, tags: list[str], params: dict[str, Any]):
        import yaml

        self.folder = Path(options.save_dir).expanduser() if options.save_dir else run_dir / "csv"
        self.folder.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump({"name": name, "tags": tags, "params": params}, sort_keys=True)
        (self.folder / "params.yaml").write_text(text, encoding="utf-8")
        self.rows: list[dict[str, Any]] = []

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        self.rows += [{"step": step, "metric": k, "value": v} for k, v in metrics.items()]

    def log_artifacts(self, files: list[Path]) -> None:
        """The files are already in the run folder, beside the CSV logs."""

    def finish(self, status: str) -> None:
        import pandas as pd

        from hopfield_cli.report.files import atomic_write

        frame = pd.DataFrame(self.rows, columns=["step", "metric", "value"])
        frame["step"] = frame["step"].astype("Int64")
        atomic_write(self.folder / "metrics.csv", lambda tmp: frame.to_csv(tmp, index=False))


class TensorBoardTracker:
    """Scalars, the config and tags as text, the figures as images (``torch.utils.tensorboard``)."""

    def __init__(self, options: Any, run_dir: Path, name: str, tags: list[str], params: dict[str, Any]):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(options.save_dir).expanduser() if options.save_dir else run_dir / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(self.folder / name))
        lines = [f"| {k} | {v} |" for k, v in sorted(params.items())]
        self.writer.add_text("config", "| key | value |\n|---|---|\n" + "\n".join(lines), 0)
        self.writer.add_text("tags", ", ".join(tags) or "-", 0)
        self.last_step = 0

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key if step is not None else f"summary/{key}", value, step or 0)

    def log_artifacts(self, files: list[Path]) -> None:
        import numpy as np
        from PIL import Image

        for path in files:
            if path.suffix == ".png":
                with Image.open(path) as image:
                    pixels = np.asarray(image.convert("RGB"))
                self.writer.add_image(f"figures/{path.stem}", pixels, 0, dataformats="HWC")

    def finish(self, status: str) -> None:
        self.writer.add_text("status", status, 0)
        self.writer.close()


class MlflowTracker:
    """An MLflow run: params (dotted config), tags (``tags=`` as tag=true, with the command), metrics with
    steps, and the run's files as artifacts."""

    def __init__(self, options: Any, run_dir: Path, name: str, tags: list[str], params: dict[str, Any]):
        import mlflow

        uri = options.tracking_uri or "file:./mlruns"
        if uri.startswith("file:") or "://" not in uri:  # MLflow 3 keeps its file store behind this switch
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(options.experiment_name or f"hopfield-{params.get('command', 'run')}")
        self.mlflow = mlflow
        self.run = mlflow.start_run(
            run_name=name, tags={**{t: "true" for t in tags}, "hopfield.tags": ",".join(tags)}
        )
        mlflow.log_params({k: str(v)[:MAX_PARAM_CHARS] for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        self.mlflow.log_metrics(metrics, step=step)

    def log_artifacts(self, files: list[Path]) -> None:
        for path in files:
            self.mlflow.log_artifact(str(path))

    def finish(self, status: str) -> None:
        self.mlflow.end_run(status="FINISHED" if status == "ok" else "FAILED")


class WandbTracker:
    """A W&B run (offline by default): config, tags, name, history with steps, summary, files as an artifact."""

    def __init__(self, options: Any, run_dir: Path, name: str, tags: list[str], params: dict[str, Any]):
        import wandb

        self.wandb = wandb
        folder = Path(options.save_dir).expanduser() if options.save_dir else run_dir
        folder.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=options.project,
            entity=options.entity,
            name=name,
            tags=tags or None,
            config=params,
            dir=str(folder),
            mode=options.mode,
            reinit="finish_previous",
        )

    def log_metrics(self, metrics: dict[str, float], step: int | None) -> None:
        if step is None:
            self.run.summary.update(metrics)
        else:
            self.run.log(metrics, step=step)

    def log_artifacts(self, files: list[Path]) -> None:
        if not files:
            return
        artifact = self.wandb.Artifact(f"{self.run.name or 'run'}-files".replace("/", "-"), type="results")
        for path in files:
            artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def finish(self, status: str) -> None:
        self.run.finish(exit_code=0 if status == "ok" else 1)
        self.wandb.teardown()  # waits until the W&B service has written the run's files


TRACKERS = {
    "csv": CsvTracker,
    "tensorboard": TensorBoardTracker,
    "mlflow": MlflowTracker,
    "wandb": WandbTracker,
}


@contextmanager
def tracking(command: str, typed: Any, run_dir: Path, results: Path) -> Iterator[None]:
    """While the run lasts, the chosen trackers are open; once it has written its files, they get its metrics,
    summary and files. A failed or interrupted run is closed as failed."""
    names = chosen(typed)
    if not names:
        yield
        return
    run_name = getattr(typed, "run_name", None) or f"{command}-{run_dir.name}"
    tags = [str(t) for t in (getattr(typed, "tags", None) or [])]
    params = {"command": command, **flat(_without(typed, ("logger", "tags", "run_name")))}
    params = {
        k: v if isinstance(v, (int, float, str, bool)) or v is None else str(v) for k, v in params.items()
    }
    opened = [TRACKERS[n](getattr(typed.logger, n), run_dir, run_name, tags, params) for n in names]
    status = "failed"
    try:
        yield
        status = "ok"
    finally:
        for tracker in opened:
            if status == "ok":
                for step, metrics in step_metrics(command, results):
                    tracker.log_metrics(metrics, step)
                tracker.log_metrics(summary_numbers(results), None)
                tracker.log_artifacts(artifacts(results))
            tracker.finish(status)


def _without(typed: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {f.name: getattr(typed, f.name) for f in dataclasses.fields(typed) if f.name not in names}
