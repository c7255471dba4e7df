"""``hopfield train task=mil``: the multiple-instance benchmarks of Table 1 under the paper's protocol.

Stratified ``folds``-fold cross-validation repeated ``repeats`` times (Sec. 5 and A.5 of Ramsauer et al.
2021). In each outer fold every method is fitted on the training bags and scored (AUC) on the held-out bags:

- ``hopfield``: the ``layer=`` option (Hopfield pooling for the paper's result),
- ``mean``, ``max``, ``attention`` (gated, Ilse et al. 2018): the baselines, on the same folds,
- ``shuffle``: the ``layer=`` model on shuffled training labels, half of each class relabelled 1 so they carry
  no information (``cross_validation.decorrelated_labels``; a control: AUC near 0.5).

``profile=full`` first searches a seeded sample of ``search_configs`` points of the grid (learning rate,
embedding width, heads, beta, bag dropout; the Hopfield axes only for the Hopfield layer) on the fold's
training bags only: one stratified inner split (``inner_folds=1``), or the mean AUC of a stratified
``inner_folds``-fold cross-validation of them (UCSB's 52 training bags leave one split of 13 bags too noisy to
choose by); then it refits the best point on all of them; ``profile=quick`` runs
one repeat with one configuration (``lr``, ``embedding``, ``layer.num_heads``, ``layer.scaling``,
``task.bag_dropout``). Features are z-scored with the training bags' statistics. Each outer fold is a cell of
the run's cell log: a killed run resumes at its first unfinished fold.

The instances are embedded by two ReLU layers (as the paper's and Ilse et al.'s MIL networks), then pooled by
the layer, then a linear head gives the bag's logit.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from hopfield_cli.config.train_options import AttentionLayerOption, MaxLayerOption, MeanLayerOption
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.patterns import device_and_dtype
from hopfield_cli.experiments.resume import CellLog, content_hash, fingerprint, work_folder
from hopfield_cli.experiments.threads import problem_threads
from hopfield_cli.experiments.train.cross_validation import (
    decorrelated_labels,
    inner_split,
    repeat_statistics,
    repeated_folds,
    stratified_folds,
)
from hopfield_cli.experiments.train.loop import TRAINING_FIELDS, make_optimizer, predict, train_epoch
from hopfield_cli.experiments.train.metrics import accuracy, auc
from hopfield_cli.experiments.train.mil_data import Bags, load_bags, standardise
from hopfield_cli.experiments.train.models import REDUCERS
from hopfield_cli.experiments.train.tasks import Split
from hopfield_cli.report.console import cell_progress, show
from hopfield_cli.report.files import write_json, write_run_info, write_table

log = logging.getLogger(__name__)

COMMAND = "train"
STEM = "results"
# the loop's fields and the epochs: a fold (or a repertoire run) is trained for its whole count, so no resume
# may change it
RESULT_FIELDS = (*TRAINING_FIELDS, "epochs")
# Table 1 of Ramsauer et al. (2021): Hopfield pooling, AUC in %, mean +- std over 5 repeats of 10-fold CV.
PAPER = {"elephant": (94.9, 0.3), "ucsb": (89.5, 0.8)}
BASELINES = {"mean": MeanLayerOption, "max": MaxLayerOption, "attention": AttentionLayerOption}
AXES = ("lr", "embedding", "heads", "beta", "bag_dropout")


class MilModel(nn.Module):
    """Instances (B, T, F) -> two ReLU layers -> the layer's pooling -> a linear head -> bag logits (B,)."""

    def __init__(self, features: int, embedding: int, layer: Any) -> None:
        super().__init__()
        self.embed = nn.Sequential(
            nn.Linear(features, embedding), nn.ReLU(), nn.Linear(embedding, embedding), nn.ReLU()
        )
        self.reduce = REDUCERS[layer.name](embedding, layer, False)
        self.head = nn.Linear(self.reduce.out_features, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.reduce(self.embed(x), mask)).squeeze(-1)


def quick_point(cfg: Any) -> dict[str, Any]:
    layer = cfg.layer
    return {
        "lr": cfg.lr,
        "embedding": cfg.embedding,
        "heads": getattr(layer, "num_heads", None),
        "beta": getattr(layer, "scaling", None),
        "bag_dropout": cfg.task.bag_dropout,
    }


def grid_points(cfg: Any, hopfield: bool) -> list[dict[str, Any]]:
    """The configurations a method tries: profile=quick one; full a seeded sample of the grid (Hopfield axes
    fixed to the quick values for the baselines), the quick point first."""
    task = cfg.task
    first = quick_point(cfg)
    if task.profile == "quick":
        return [first]
    heads = task.grid_heads if hopfield and first["heads"] is not None else [first["heads"]]
    betas = task.grid_beta if hopfield and first["heads"] is not None else [first["beta"]]
    grid = [
        dict(zip(AXES, values, strict=True))
        for values in itertools.product(
            task.grid_lr, task.grid_embedding, heads, betas, task.grid_bag_dropout
        )
        if values[2] is None or values[1] % values[2] == 0
    ]
    random.Random(cfg.seed).shuffle(grid)
    return grid[: task.search_configs]


def layer_of(cfg: Any, method: str, point: dict[str, Any]) -> Any:
    if method in BASELINES:
        return BASELINES[method]()
    layer = cfg.layer
    if point["heads"] is not None and hasattr(layer, "num_heads"):
        layer = dataclasses.replace(layer, num_heads=int(point["heads"]), scaling=point["beta"])
    return layer


def drop_instances(mask: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Bag dropout: each real instance becomes padding with probability ``rate``; a bag keeps at least one."""
    if rate <= 0:
        return mask
    dropped = mask | (torch.rand(mask.shape, generator=generator) < rate)
    empty = dropped.all(dim=1)
    if bool(empty.any()):
        first_real = (~mask[empty]).float().argmax(dim=1)
        dropped[empty.nonzero().flatten(), first_real] = False
    return dropped


def fit(cfg: Any, layer: Any, point: dict[str, Any], train: Split, seed: int, device, dtype) -> nn.Module:
    """Train a fresh model on ``train`` for ``cfg.epochs`` epochs with the point's settings."""
    torch.manual_seed(seed)
    model = MilModel(int(train.x.shape[-1]), int(point["embedding"]), layer).to(device=device, dtype=dtype)
    optimizer = make_optimizer(cfg.optimizer, model, float(point["lr"]), cfg.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(cfg.epochs):
        mask = drop_instances(train.mask, float(point["bag_dropout"]), generator)
        train_epoch(
            model, optimizer, Split(train.x, train.y, mask), cfg.batch_size, seed + epoch, device, dtype
        )
    return model


def score(model: nn.Module, split: Split, device, dtype) -> dict[str, float]:
    logits = predict(model, split, device, dtype).double().cpu()
    return {"auc": auc(logits, split.y), "accuracy": accuracy(logits, split.y.double())}


def _subset(split: Split, index: torch.Tensor) -> Split:
    return Split(split.x[index], split.y[index], split.mask[index])


def inner_splits(labels: torch.Tensor, task: Any, seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(fit, score) positions of the inner search: one stratified split scoring ``inner_fraction``
    (``inner_folds=1``), or a stratified ``inner_folds``-fold cross-validation of the training bags."""
    if task.inner_folds == 1:
        return [inner_split(labels, task.inner_fraction, seed)]
    folds = stratified_folds(labels, task.inner_folds, seed)
    everything = torch.arange(len(labels))
    return [(everything[~torch.isin(everything, held)], held) for held in folds]


def run_method(
    cfg, method: str, train: Split, test: Split, seed: int, device, dtype, chosen
) -> dict[str, Any]:
    """One method on one outer fold: the inner search (full profile), the refit, the held-out AUC."""
    started = time.perf_counter()
    hopfield = method in ("hopfield", "shuffle")
    points = [chosen] if method == "shuffle" else grid_points(cfg, hopfield)
    if method == "shuffle":  # the layer's own chosen point, on labels uncorrelated with the true ones
        train = Split(train.x, decorrelated_labels(train.y, seed), train.mask)
    inner_auc = float("nan")
    best = points[0]
    if len(points) > 1:
        splits = inner_splits(train.y, cfg.task, seed)
        results = []
        for k, point in enumerate(points):
            aucs = []
            for fit_at, score_at in splits:
                model = fit(
                    cfg, layer_of(cfg, method, point), point, _subset(train, fit_at), seed + k, device, dtype
                )
                aucs.append(score(model, _subset(train, score_at), device, dtype)["auc"])
            results.append(sum(aucs) / len(aucs))
        k_best = max(range(len(points)), key=lambda k: (results[k], -k))  # ties: the earlier point
        best, inner_auc = points[k_best], results[k_best]
    model = fit(cfg, layer_of(cfg, method, best), best, train, seed, device, dtype)
    scored = score(model, test, device, dtype)
    return {
        "method": method,
        "layer": layer_of(cfg, method, best).name,
        **scored,
        **{f"chosen_{k}": v for k, v in best.items()},
        "inner_auc": inner_auc,
        "configs_tried": len(points),
        "seconds": time.perf_counter() - started,
    }


def run_fold(cfg, bags: Bags, test_index: torch.Tensor, repeat: int, fold: int, device, dtype) -> list[dict]:
    keep = torch.ones(len(bags), dtype=torch.bool)
    keep[test_index] = False
    train_index = keep.nonzero().flatten()
    x_train, x_test = standardise(
        (bags.x[train_index], bags.mask[train_index]), (bags.x[test_index], bags.mask[test_index])
    )
    train = Split(x_train, bags.y[train_index], bags.mask[train_index])
    test = Split(x_test, bags.y[test_index], bags.mask[test_index])
    seed = (cfg.seed * 1_000_003 + repeat * 1_009 + fold) % (2**31)
    rows, chosen = [], quick_point(cfg)
    methods = cfg.task.methods
    if "shuffle" in methods and "hopfield" in methods:  # the control uses the layer's chosen point: after it
        methods = [m for m in methods if m != "shuffle"] + ["shuffle"]
    for method in methods:
        row = run_method(cfg, method, train, test, seed, device, dtype, chosen)
        if method == "hopfield":
            chosen = {k: row[f"chosen_{k}"] for k in AXES}
        rows.append(
            {
                "task": "mil",
                "dataset": cfg.task.dataset,
                "repeat": repeat,
                "fold": fold,
                **row,
                "bags_train": len(train),
                "bags_test": len(test),
                "positives_test": int(test.y.sum()),
            }
        )
    return rows


def method_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per method: mean +- std of the repeat means (the paper's statistic), std over folds."""
    rows = []
    for method, part in table.groupby("method", sort=False):
        stats = repeat_statistics(
            list(zip(part["repeat"].astype(int), part["auc"].astype(float), strict=True))
        )
        rows.append(
            {"method": method, "layer": part["layer"].iloc[0], **stats, "seconds": part["seconds"].sum()}
        )
    return pd.DataFrame(rows)


def run_fingerprint(cfg: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {"command": COMMAND}
    if cfg.task.dataset == "file":
        extra["bags_sha256"] = content_hash(Path(cfg.task.path).expanduser())
    return fingerprint(cfg, RESULT_FIELDS, **extra)


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Cross-validate every method on the bags; write the per-fold table, the per-method table and figure."""
    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    bags = load_bags(cfg.task)
    task = cfg.task
    repeats = 1 if task.profile == "quick" else task.repeats
    smaller = min(int(bags.y.sum()), len(bags) - int(bags.y.sum()))  # the bags of the smaller class
    if task.folds > smaller:
        raise UsageError(
            "task.folds", f"must be at most the bags of the smaller class ({smaller}), got {task.folds}"
        )
    if task.profile == "full" and task.inner_folds > 1:
        # the smaller class's bags in the outer training fold that holds the fewest of them
        fewest = smaller - math.ceil(smaller / task.folds)
        if task.inner_folds > fewest:
            raise UsageError(
                "task.inner_folds",
                f"must be at most the smaller class's bags in an outer training fold ({fewest}), got "
                f"{task.inner_folds}",
            )
    partitions = repeated_folds(bags.y, task.folds, repeats, cfg.seed)
    work_dir = work_folder(cfg.resume, run_dir)
    cells = CellLog(work_dir, run_fingerprint(cfg), stem=STEM)
    title = f"mil {task.dataset} ({task.profile}: {repeats} x {task.folds} folds)"
    log.info(
        "%s: %d bags, %d features, up to %d instances a bag",
        title,
        len(bags),
        bags.x.shape[-1],
        bags.x.shape[1],
    )
    with cell_progress(title, total=repeats * task.folds) as bar:
        for repeat, folds in enumerate(partitions):
            for fold, test_index in enumerate(folds):
                key = {"repeat": repeat, "fold": fold}
                if cells.get(key) is not None:
                    bar.advance()
                    continue
                bar.begin(f"repeat {repeat + 1}/{repeats} fold {fold + 1}/{task.folds}")
                with problem_threads(device, 0):  # tiny products: one thread (threads.py)
                    rows = run_fold(cfg, bags, test_index, repeat, fold, device, dtype)
                cells.add(key, rows)
                bar.advance()
                bar.note(
                    f"repeat {repeat + 1} fold {fold + 1}: "
                    + ", ".join(f"{r['method']} {r['auc']:.3f}" for r in rows)
                )
    table = cells.frame().sort_values(["repeat", "fold"], kind="stable").reset_index(drop=True)
    methods = method_table(table)
    write_table(methods, work_dir, stem="methods")
    seconds = time.perf_counter() - started
    paper = PAPER.get(task.dataset)
    summary = {
        "dataset": task.dataset,
        "profile": task.profile,
        "auc_mean": _method_value(methods, "hopfield", "auc_mean"),
        "auc_std_repeats": _method_value(methods, "hopfield", "auc_std_repeats"),
        "shuffle_auc_mean": _method_value(methods, "shuffle", "auc_mean"),
        "bags": len(bags),
        "repeats": repeats,
        "folds": task.folds,
        "paper_auc": None if paper is None else paper[0] / 100,
        "paper_std": None if paper is None else paper[1] / 100,
        "methods": methods.to_dict(orient="records"),
        "seconds": seconds,
        "device": str(device),
    }
    write_json(work_dir / "summary.json", summary)
    if cfg.plots:
        from hopfield_cli.report.application_figures import save_auc_per_fold

        save_auc_per_fold(
            work_dir / "auc_per_fold.png", table, f"{task.dataset}: AUC per fold and method", paper
        )
    write_run_info(work_dir, COMMAND, cfg.seed, device, seconds=seconds, hydra_run_dir=str(run_dir))
    show(methods_console(methods, task.dataset, paper, seconds))
    return table


def _method_value(methods: pd.DataFrame, method: str, column: str) -> float | None:
    rows = methods[methods["method"] == method]
    return None if rows.empty else float(rows[column].iloc[0])


def methods_console(methods: pd.DataFrame, dataset: str, paper, seconds: float):
    from rich.table import Table

    table = Table(title=f"mil {dataset}: AUC, mean +- std of the repeat means ({seconds:,.0f} s)")
    for column in ("method", "layer", "AUC", "std (repeats)", "std (folds)", "folds", "paper (Table 1)"):
        table.add_column(column)
    for row in methods.itertuples():
        reference = (
            f"{paper[0] / 100:.3f} +- {paper[1] / 100:.3f}" if paper and row.method == "hopfield" else ""
        )
        table.add_row(
            row.method,
            row.layer,
            f"{row.auc_mean:.3f}",
            f"{row.auc_std_repeats:.3f}",
            f"{row.auc_std_folds:.3f}",
            str(row.folds_scored),
            reference,
        )
    return table
