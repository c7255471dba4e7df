"""The one training loop of `hopfield train`: epochs of shuffled mini-batches, then an evaluation pass.

Each epoch is a cell of the run's cell log (``experiments.resume.CellLog``): its two rows (train, eval) are
appended once the epoch's checkpoint is on disk, so a killed run resumes from its last finished epoch and
gives the same table. Randomness is a function of (seed, epoch): the shuffle uses its own generator and the
global generator (dropout) is re-seeded at each epoch's start, so a resumed epoch draws what it would have.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hopfield_cli.experiments.train import checkpoint
from hopfield_cli.experiments.train.metrics import accuracy, auc
from hopfield_cli.experiments.train.tasks import Split

EVAL_BATCH = 256
# The config fields that decide a training run's table (its resume fingerprint; epochs are the caller's choice)
TRAINING_FIELDS = (
    "task",
    "layer",
    "batch_size",
    "lr",
    "weight_decay",
    "optimizer",
    "embedding",
    "seed",
    "dtype",
)


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch) % (2**63 - 1)


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)


def _batch(split: Split, index: torch.Tensor, device: torch.device, dtype: torch.dtype):
    x = split.x[index].to(device=device, dtype=dtype)
    mask = None if split.mask is None else split.mask[index].to(device)
    return x, mask, split.y[index].to(device=device, dtype=dtype)


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    split: Split,
    batch_size: int,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
) -> dict[str, float]:
    model.train()
    order = torch.randperm(len(split), generator=torch.Generator().manual_seed(seed))
    loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
    total, logits_all, labels_all = 0.0, [], []
    for start in range(0, len(split), batch_size):
        x, mask, y = _batch(split, order[start : start + batch_size], device, dtype)
        logits = model(x, mask)
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        (loss / len(y)).backward()
        optimizer.step()
        total += loss.item()
        logits_all.append(logits.detach())
        labels_all.append(y)
    logits, labels = torch.cat(logits_all), torch.cat(labels_all)
    return {"loss": total / len(split), "accuracy": accuracy(logits, labels), "auc": auc(logits, labels)}


@torch.no_grad()
def predict(model: nn.Module, split: Split, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Logits of every example, in order (n,)."""
    model.eval()
    out = []
    for start in range(0, len(split), EVAL_BATCH):
        x, mask, _ = _batch(split, torch.arange(start, min(start + EVAL_BATCH, len(split))), device, dtype)
        out.append(model(x, mask))
    return torch.cat(out)


def evaluate(model: nn.Module, split: Split, device: torch.device, dtype: torch.dtype) -> dict[str, float]:
    logits = predict(model, split, device, dtype).double().cpu()
    labels = split.y.double()
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels).item()
    return {"loss": loss, "accuracy": accuracy(logits, labels), "auc": auc(logits, labels)}


def run_epochs(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train: Split,
    evaluation: Split,
    epochs: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    dtype: torch.dtype,
    log: Any,  # experiments.resume.CellLog
    run_dir: Path,
    labels: dict[str, Any],
    progress: Any,  # report.console.Cells
    on_epoch: Callable[[int, list[dict[str, Any]]], None] | None = None,
) -> None:
    """Train the epochs not yet in ``log`` (restoring the last finished epoch's checkpoint first)."""
    done = len(log)
    if done:
        checkpoint.load(run_dir, done, model, optimizer)
        progress.advance(done)
    for epoch in range(done + 1, epochs + 1):
        progress.begin(f"epoch {epoch}/{epochs}")
        started = time.perf_counter()
        torch.manual_seed(epoch_seed(seed, epoch))
        fit = train_epoch(model, optimizer, train, batch_size, epoch_seed(seed, epoch), device, dtype)
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        scored = evaluate(model, evaluation, device, dtype)
        eval_seconds = time.perf_counter() - started
        rows = [
            {
                **labels,
                "epoch": epoch,
                "split": "train",
                **fit,
                "examples": len(train),
                "seconds": fit_seconds,
            },
            {
                **labels,
                "epoch": epoch,
                "split": "eval",
                **scored,
                "examples": len(evaluation),
                "seconds": eval_seconds,
            },
        ]
        checkpoint.save(run_dir, epoch, model, optimizer)
        log.add({"epoch": epoch}, rows)
        checkpoint.prune(run_dir, keep=epoch)
        progress.advance()
        if on_epoch is not None:
            on_epoch(epoch, rows)
