"""Warnings where a run's results lose their meaning: printed as one line each, and the run goes on.

The modern update xi <- X softmax(beta X^T xi) (Ramsauer et al., 2021, Eq. 3) separates patterns only
through the gaps between their scores x_i . xi: duplicated patterns tie, N = 1 leaves nothing to separate,
d = 1 patterns differ only in sign and scale, and once beta times the smallest score gap is far beyond
float32's resolution every softmax is one-hot, so the network is a nearest-pattern lookup.
"""

from __future__ import annotations

import torch

from hopfield_cli.report.console import say

# beta * (gap between the two largest scores) beyond this: the runner-up weight exp(-gap) is below float32's
# resolution next to 1, so the softmax is one-hot and the modern update is a nearest-pattern lookup.
ONE_HOT_SCORE_GAP = 17.0


def meaning_warnings(patterns: torch.Tensor, betas: list[float] | None = None) -> list[str]:
    """Where the results of a run lose meaning, one line each (the run goes on; see ``warn``).

    Duplicated patterns make retrieval ambiguous (the nearest pattern is a tie); N = 1 leaves nothing to tell
    apart; d = 1 patterns differ only in sign and scale; a beta whose smallest nonzero score gap is beyond
    ONE_HOT_SCORE_GAP (x 1e3) makes every softmax one-hot in float32. ``betas`` None: no family with an
    inverse temperature runs (``families.has_beta``).
    """
    n, d = patterns.shape
    lines = []
    if n == 1:
        lines.append("num_patterns: only one stored pattern; every query retrieves it, success says nothing")
    if d == 1:
        lines.append("dim: d = 1; patterns differ only in sign and scale, separation is degenerate")
    unique = torch.unique(patterns, dim=0).shape[0] if n > 1 else n
    if unique < n:
        lines.append(
            f"patterns: {n - unique} of {n} stored patterns duplicate another; retrieving them is ambiguous "
            "(the nearest pattern is a tie)"
        )
    if betas:
        x = patterns.double()
        norms_sq = x.pow(2).sum(dim=1)
        sample = x[: min(n, 256)]
        scores = sample @ x.T  # (S, N): gaps between a pattern's own score and the others'
        gaps = (norms_sq[: sample.shape[0], None] - scores).abs()
        gaps = gaps[gaps > 0]
        if gaps.numel():
            beta_max = max(betas)
            if beta_max * float(gaps.min()) > ONE_HOT_SCORE_GAP * 1e3:
                lines.append(
                    f"beta: beta = {beta_max:g} makes every softmax one-hot in float32 (smallest score gap "
                    f"{float(gaps.min()):.3g}); the modern network acts as a nearest-pattern lookup"
                )
    return lines


def warn(lines: list[str]) -> None:
    """Print each warning as one line on stderr and keep it in the run's log (once: not through the root
    logger, whose console handler would print it a second time)."""
    for line in lines:
        say(f"warning: {line}", err=True)
