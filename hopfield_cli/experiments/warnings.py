"""Warnings where a run's results lose their meaning: printed as one line each, and the run goes on.

The modern update xi <- X softmax(beta X^T xi) (Ramsauer et al., 2021, Eq. 3) separates patterns only
through the gaps between their scores x_i . xi: duplicated patterns tie, N = 1 leaves nothing to separate,
d = 1 patterns differ only in sign and scale, and once beta times the smallest score gap is far beyond
float32's resolution every softmax is one-hot, so the network is a nearest-pattern lookup.
"""

from __future__ import annotations

import numpy as np
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
    unique = _unique_rows(patterns) if n > 1 else n
    if unique < n:
        lines.append(
            f"patterns: {n - unique} of {n} stored patterns duplicate another; retrieving them is ambiguous "
            "(the nearest pattern is a tie)"
        )
    if betas:
        gap = _smallest_score_gap(patterns)
        beta_max = max(betas)
        if gap is not None and beta_max * gap > ONE_HOT_SCORE_GAP * 1e3:
            lines.append(
                f"beta: beta = {beta_max:g} makes every softmax one-hot in float32 (smallest score gap "
                f"{gap:.3g}); the modern network acts as a nearest-pattern lookup"
            )
    return lines


GAP_BLOCK_ELEMENTS = 1 << 20  # (256 x chunk) float64 score blocks of 8 MiB


def _unique_rows(patterns: torch.Tensor) -> int:
    """How many distinct rows: each row's bytes as one opaque item, sorted (memcmp) by numpy.

    About one extra copy of the patterns (torch.unique(dim=0) needed ~80 bytes per entry); -0.0 is first made
    +0.0 so that rows equal as numbers are equal as bytes.
    """
    rows = np.ascontiguousarray((patterns.detach().cpu() + 0.0).numpy())
    items = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    return int(np.unique(items).shape[0])


def _smallest_score_gap(patterns: torch.Tensor) -> float | None:
    """min over the first 256 patterns i and all j of |x_i^T x_i - x_i^T x_j| > 0, in float64, in chunks."""
    n, d = patterns.shape
    sample = patterns[: min(n, 256)].double()
    own = sample.pow(2).sum(dim=1)
    step = max(1, GAP_BLOCK_ELEMENTS // max(d, sample.shape[0]))
    best = None
    for start in range(0, n, step):
        gaps = (own[:, None] - sample @ patterns[start : start + step].double().T).abs()  # (S, chunk)
        gaps = gaps[gaps > 0]
        if gaps.numel():
            value = float(gaps.min())
            best = value if best is None else min(best, value)
    return best


def warn(lines: list[str]) -> None:
    """Print each warning as one line on stderr and keep it in the run's log (once: not through the root
    logger, whose console handler would print it a second time)."""
    for line in lines:
        say(f"warning: {line}", err=True)
