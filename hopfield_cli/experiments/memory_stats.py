"""Summary statistics of a memory: norms, separation Delta_i, how many patterns are well separated, and the
betas where retrieval changes regime.

Delta_i and the well-separated threshold are Section 2 of Ramsauer et al. (2021); beta m_max^2 < 1 is
Lemma A3's condition for a single global fixed point (``core.theory``). So a memory has two beta scales:
below 1/m_max^2 every query goes to the average of all patterns; from the well-separated beta on (the
smallest beta at which every pattern with Delta_i > 0 is well separated) each pattern has a fixed point of
its own; in between, queries can settle in metastable mixtures of similar patterns.
"""

from __future__ import annotations

from typing import Any

import torch

from hopfield_cli.core import theory
from hopfield_cli.experiments.beta_scales import separation_sample, well_separated_beta

# The separation is exact up to EXACT_SEPARATION_MAX_N patterns and on a seeded sample of rows beyond, its size
# reported as ``separation_rows`` (``beta_scales.separation_sample``).


def memory_stats(patterns: torch.Tensor, beta: float, device: torch.device, seed: int = 0) -> dict[str, Any]:
    """N, d, M = max ||x_i||, Delta_min, the well-separated count at ``beta`` and the global condition.

    Every statistic streams over row blocks (no float64 copy of the patterns, no N x N Gram matrix): M, m_max
    and the mean exactly, the separation exactly up to EXACT_SEPARATION_MAX_N and on a seeded sample beyond.
    """
    n, d = patterns.shape
    x = patterns.to(device)
    norm_max = theory.norm_max64(x)
    rows = separation_sample(n, seed)
    delta = separation_with_progress(x, rows).double().cpu()
    sampled = rows is not None
    threshold = theory.well_separated_threshold(n, beta, norm_max)
    mean = theory.pattern_mean(x)
    m_max = theory.mean_spread(x, mean)
    positive = delta[delta > 0]
    beta_separated = (
        well_separated_beta(float(positive.min()), n, norm_max) if positive.numel() else float("inf")
    )
    return {
        "num_patterns": n,
        "dim": d,
        "M": norm_max,
        "m_max": m_max,
        "delta_min": float(delta.min()) if n > 1 else float("inf"),
        "delta_median": float(delta.median()) if n > 1 else float("inf"),
        "well_separated_threshold": threshold,
        "well_separated": int((delta >= threshold).sum()),
        "separation_rows": int(delta.numel()),
        "separation_sampled": sampled,
        "beta": beta,
        "global_fixed_point": bool(beta * m_max**2 < 1.0),
        "beta_global": 1.0 / m_max**2 if m_max > 0 else float("inf"),
        "beta_separated": beta_separated,
        "never_separated": int((delta <= 0).sum()) if n > 1 else 0,
        "mean_norm": float(torch.linalg.vector_norm(mean)),
    }


PROGRESS_WORK = 1 << 30  # N * d * rows of a separation worth a progress bar (a second or more on a CPU)
BLOCK_WORK = 1 << 29  # ... and of each block of rows the bar advances by


def separation_with_progress(x: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor:
    """``theory.separation(x, rows=rows)``, in blocks of rows with a progress bar when it takes a while (each
    Delta_i compares row i with all N patterns, so a block of rows gives exactly its part of the whole)."""
    from hopfield_cli.report.console import cell_progress

    n, d = x.shape
    index = torch.arange(n) if rows is None else rows
    per_row = max(n * d, 1)
    if per_row * index.numel() <= PROGRESS_WORK:
        return theory.separation(x, rows=rows)
    block = max(1, BLOCK_WORK // per_row)
    parts = []
    with cell_progress("separation", index.numel(), unit="rows") as bar:
        for start in range(0, index.numel(), block):
            part = index[start : start + block]
            bar.begin(f"rows {start + 1:,}-{start + part.numel():,}")
            parts.append(theory.separation(x, rows=part))
            bar.advance(part.numel())
    return torch.cat(parts)
