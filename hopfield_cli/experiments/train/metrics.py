"""Binary classification metrics of `hopfield train`: accuracy at logit 0 and the ROC AUC.

AUC = P(score of a random positive > score of a random negative) + 1/2 P(tie), computed from mid-ranks
(the Mann-Whitney U statistic divided by n_pos n_neg); NaN when a split has one class only.
"""

from __future__ import annotations

import math

import torch


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float(((logits > 0).float() == labels).float().mean())


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    scores = scores.detach().double().cpu()
    labels = labels.detach().cpu().bool()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return math.nan
    order = torch.argsort(scores, stable=True)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    # mid-ranks for ties: every member of a run of equal scores gets the run's mean rank
    _, inverse, counts = torch.unique_consecutive(sorted_scores, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mid = ends - (counts.double() - 1) / 2
    ranks[order] = mid[inverse]
    u = ranks[labels].sum().item() - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg)
