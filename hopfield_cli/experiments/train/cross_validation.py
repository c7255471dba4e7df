"""Stratified, repeated k-fold cross-validation and the statistics the paper reports (Table 1).

Each repeat deals each class's bags, in a seeded random order, round-robin into ``folds`` folds: every bag is
held out exactly once per repeat, and each fold's class counts differ from the overall ratio by at most one
bag per class. The paper's number is the mean over repeats of the mean AUC over a repeat's folds, +- the
standard deviation of those repeat means.
"""

from __future__ import annotations

import math

import torch


def stratified_folds(labels: torch.Tensor, folds: int, seed: int) -> list[torch.Tensor]:
    """``folds`` index tensors partitioning range(n); each class is spread as evenly as it can be."""
    generator = torch.Generator().manual_seed(seed)
    members: list[list[int]] = [[] for _ in range(folds)]
    offset = 0
    for value in sorted(set(labels.tolist())):
        index = (labels == value).nonzero().flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        for i, bag in enumerate(index.tolist()):
            members[(offset + i) % folds].append(bag)
        offset += len(index)  # the next class starts where this one ended: fold sizes stay within one
    return [torch.tensor(sorted(m), dtype=torch.long) for m in members]


def repeated_folds(labels: torch.Tensor, folds: int, repeats: int, seed: int) -> list[list[torch.Tensor]]:
    """``repeats`` independent stratified partitions (repeat r uses seed + r)."""
    if folds > len(labels):
        raise ValueError(f"folds: {folds} folds need at least {folds} bags, got {len(labels)}")
    return [stratified_folds(labels, folds, seed * 1_000 + r) for r in range(repeats)]


def inner_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(fit, score) positions into ``labels``: a stratified share ``fraction`` of each class is scored, at
    least one bag of each class on each side."""
    generator = torch.Generator().manual_seed(seed)
    fit, score = [], []
    for value in sorted(set(labels.tolist())):
        index = (labels == value).nonzero().flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        k = min(max(1, round(fraction * len(index))), len(index) - 1) if len(index) > 1 else 0
        score.append(index[:k])
        fit.append(index[k:])
    return torch.cat(fit).sort().values, torch.cat(score).sort().values


def repeat_statistics(per_fold: list[tuple[int, float]]) -> dict[str, float]:
    """(repeat, AUC) per fold -> mean and std (sample, ddof 1) of the repeat means, and the std over folds."""
    by_repeat: dict[int, list[float]] = {}
    for repeat, value in per_fold:
        if not math.isnan(value):
            by_repeat.setdefault(repeat, []).append(value)
    means = [sum(v) / len(v) for v in by_repeat.values()]
    values = [v for _, v in per_fold if not math.isnan(v)]
    return {
        "auc_mean": _mean(means),
        "auc_std_repeats": _std(means),
        "auc_std_folds": _std(values),
        "repeats": len(means),
        "folds_scored": len(values),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return math.nan
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def decorrelated_labels(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """The label-shuffle control's labels: within each true class a random half (alternately rounded up and
    down) is labelled 1, so the new labels are uncorrelated with the true ones by construction. A plain
    permutation keeps a chance correlation of order 1/sqrt(n), which a model that finds a strong feature (a
    motif) amplifies into an AUC near 0 or 1 instead of 0.5."""
    generator = torch.Generator().manual_seed(seed)
    out = torch.zeros_like(labels)
    for k, value in enumerate(sorted(set(labels.tolist()))):
        index = (labels == value).nonzero().flatten()
        index = index[torch.randperm(len(index), generator=generator)]
        half = (len(index) + (k % 2)) // 2
        out[index[:half]] = 1.0
    return out
