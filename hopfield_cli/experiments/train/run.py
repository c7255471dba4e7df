"""`hopfield train`'s entry point: data, model, the loop, then the table, summary, figure and model files."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hopfield_cli.config.commands import TrainConfig
from hopfield_cli.experiments.footprint import ROW_BYTES, Term
from hopfield_cli.experiments.patterns import device_and_dtype
from hopfield_cli.experiments.resume import CellLog, fingerprint, work_folder
from hopfield_cli.experiments.train import checkpoint
from hopfield_cli.experiments.train.loop import TRAINING_FIELDS, make_optimizer, run_epochs
from hopfield_cli.experiments.train.models import build_model, parameter_count
from hopfield_cli.experiments.train.tasks import TaskData, make_task
from hopfield_cli.report.console import cell_progress, key_value_table, show
from hopfield_cli.report.files import write_json, write_run_info

log = logging.getLogger(__name__)

COMMAND = "train"
STEM = "results"
# What decides the table. Not epochs: no schedule depends on the total, so `resume=<folder> epochs=40`
# continues a finished 20-epoch run exactly as a 40-epoch run would have gone.
RESULT_FIELDS = TRAINING_FIELDS


def footprint(cfg: TrainConfig) -> list[Term]:
    """The two splits in memory as float32 elements (n x T x F), and one table row per epoch and split."""
    if cfg.task.name == "mlm":
        from hopfield_cli.experiments.train import mlm

        return mlm.footprint(cfg)
    if cfg.task.name in ("mil", "repertoire"):  # the applications of Section 5 (issue 23)
        from hopfield_cli.experiments.train import applications

        return applications.footprint(cfg)
    shapes = task_shapes(cfg.task)
    terms = [Term("task", n * t * f * 4, f"{what}: {n:,} x {t:,} x {f:,}") for what, n, t, f in shapes]
    return [*terms, Term("epochs", 2 * cfg.epochs * ROW_BYTES, f"{2 * cfg.epochs} table rows")]


def task_shapes(task: Any) -> list[tuple[str, int, int, int]]:
    if task.name == "bit_pattern":
        return [
            ("training bags", task.num_bags, task.num_instances, task.num_bits),
            ("evaluation bags", task.num_eval_bags, task.num_instances, task.num_bits),
        ]
    return [
        ("training sequences", task.num_sequences, task.seq_len, task.num_symbols),
        ("evaluation sequences", task.num_eval_sequences, task.seq_len, task.num_symbols),
    ]


def summarise(table: pd.DataFrame, cfg: TrainConfig, params: int, seconds: float) -> dict[str, Any]:
    evaluation = table[table["split"] == "eval"].sort_values("epoch")
    last = evaluation.iloc[-1]
    solved = evaluation[evaluation["accuracy"] >= 1.0]
    best = evaluation.loc[evaluation["auc"].fillna(-1).idxmax()]
    return {
        "task": cfg.task.name,
        "layer": cfg.layer.name,
        "epochs": int(last["epoch"]),
        "final_eval_loss": float(last["loss"]),
        "final_eval_accuracy": float(last["accuracy"]),
        "final_eval_auc": float(last["auc"]),
        "best_eval_auc": float(best["auc"]),
        "best_eval_epoch": int(best["epoch"]),
        "first_epoch_eval_accuracy_1": int(solved["epoch"].iloc[0]) if len(solved) else None,
        "parameters": params,
        "seconds": seconds,
    }


@contextmanager
def training_threads(cfg: Any) -> Iterator[None]:
    """One CPU thread for training unless ``threads=`` (or OMP_NUM_THREADS) says otherwise: these models are
    small, and OpenMP's start-up and spinning on every small product cost more than a second thread gains
    (latch_hopfield, 2 epochs on 2 shared cores: 50 s with 2 threads, 13 s with one)."""
    previous = torch.get_num_threads()
    own = getattr(cfg, "threads", None) is None and "OMP_NUM_THREADS" not in os.environ
    if own and previous > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)


def run(cfg: TrainConfig, run_dir: Path) -> pd.DataFrame:
    """Train ``cfg.layer`` on ``cfg.task``; resumes in ``cfg.resume`` when set; returns the per-epoch table."""
    with training_threads(cfg):
        return _run(cfg, run_dir)


def _run(cfg: TrainConfig, run_dir: Path) -> pd.DataFrame:
    if cfg.task.name == "mlm":  # a step-based transformer with its own evaluation (issue 22)
        from hopfield_cli.experiments.train import mlm

        return mlm.run(cfg, run_dir)
    if cfg.task.name in ("mil", "repertoire"):  # cross-validated folds / streamed repertoires (issue 23)
        from hopfield_cli.experiments.train import applications

        return applications.run(cfg, run_dir)
    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    data: TaskData = make_task(cfg.task, cfg.seed)
    torch.manual_seed(cfg.seed)
    length = int(data.train.x.shape[1])
    model = build_model(cfg.layer, data.features, cfg.embedding, data.ordered, length).to(
        device=device, dtype=dtype
    )
    optimizer = make_optimizer(cfg.optimizer, model, cfg.lr, cfg.weight_decay)
    work_dir = work_folder(cfg.resume, run_dir)
    cells = CellLog(work_dir, fingerprint(cfg, RESULT_FIELDS, command=COMMAND), stem=STEM)
    if len(cells):
        log.info("resuming in %s: %d of %d epochs already done", work_dir, len(cells), cfg.epochs)
    labels = {"task": cfg.task.name, "layer": cfg.layer.name, "seed": cfg.seed}
    with cell_progress(f"train {cfg.task.name}/{cfg.layer.name}", total=cfg.epochs) as bar:

        def report(epoch: int, rows: list[dict[str, Any]]) -> None:
            fit, scored = rows
            bar.note(
                f"epoch {epoch}: train loss {fit['loss']:.4f} acc {fit['accuracy']:.3f}; "
                f"eval loss {scored['loss']:.4f} acc {scored['accuracy']:.3f} AUC {scored['auc']:.3f}"
            )

        run_epochs(
            model=model,
            optimizer=optimizer,
            train=data.train,
            evaluation=data.eval,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            seed=cfg.seed,
            device=device,
            dtype=dtype,
            log=cells,
            run_dir=work_dir,
            labels=labels,
            progress=bar,
            on_epoch=report,
        )
    table = cells.frame().sort_values(["epoch", "split"], kind="stable").reset_index(drop=True)
    seconds = time.perf_counter() - started
    params = parameter_count(model)
    summary = summarise(table, cfg, params, seconds)
    write_json(work_dir / "summary.json", {**summary, "device": str(device), "dtype": cfg.dtype})
    if cfg.save_model:
        checkpoint.save_model(
            work_dir / "model.safetensors",
            model,
            {"task": cfg.task.name, "layer": cfg.layer.name, "seed": f"{cfg.seed}"},
        )
    if cfg.plots:
        from hopfield_cli.report.train_figures import save_learning_curve

        save_learning_curve(
            work_dir / "learning_curve.png",
            table,
            f"{cfg.task.name} with layer={cfg.layer.name} (seed {cfg.seed})",
        )
    write_run_info(work_dir, COMMAND, cfg.seed, device, seconds=seconds, hydra_run_dir=str(run_dir))
    show(
        key_value_table(
            f"train {cfg.task.name} / {cfg.layer.name}: {summary['epochs']} epochs",
            [
                ("final eval accuracy", summary["final_eval_accuracy"]),
                ("final eval AUC", summary["final_eval_auc"]),
                ("final eval loss", summary["final_eval_loss"]),
                ("first epoch at eval accuracy 1", summary["first_epoch_eval_accuracy_1"] or "never"),
                ("trainable parameters", params),
                ("device", str(device)),
                ("seconds", seconds),
            ],
        )
    )
    return table
