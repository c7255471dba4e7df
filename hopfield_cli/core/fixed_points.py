"""What kind of fixed point a query ended in, measured by the paper's k (Section 4, Fig. A.3).

The paper's measure: k = the smallest number of largest softmax weights whose sum reaches 0.90. Per attention
head, k-bar = median of k over queries, and the head classes are I: k-bar > N/2 (global averaging),
II: N/8 < k-bar <= N/2, III: N/32 < k-bar <= N/8, IV: k-bar <= N/32 (small metastable state or single pattern).

The per-query kind below uses the same k and the same class I threshold, so a query called 'global' here is
one the paper's k would put in class I and a query called 'single' has k == 1 (largest weight >= 0.9):
- 'single':     k90 == 1, the update has (almost) picked one pattern (Section 2, single-pattern fixed point);
- 'global':     k90 > N/2, the weights are spread over most patterns (the global fixed point near the mean,
                Lemma A3, where all p_i ~ 1/N);
- 'metastable': anything in between; the support size of the metastable state is k90 (Lemma A12).
A kind describes a FIXED point: a query that hit ``update_steps_max`` without converging is labelled
'unconverged' instead (``converged_kinds``), whatever its last weights look like.
"""

from __future__ import annotations

import torch

MASS = 0.9
KINDS = ("single", "metastable", "global")  # codes 0, 1, 2
HEAD_CLASSES = ("I", "II", "III", "IV")
UNCONVERGED = "unconverged"  # no fixed point reached: no kind claimed


def converged_kinds(kinds: list[str], converged: list[bool]) -> list[str]:
    """Each kind where its query converged, 'unconverged' where it did not (the label needs a fixed point)."""
    return [kind if done else UNCONVERGED for kind, done in zip(kinds, converged, strict=True)]


_TOPK_FIRST = 64  # most retrieval queries are resolved within their top 64 weights; the rest get a full sort


def reach_tolerance(dtype: torch.dtype) -> float:
    """Relative slack when testing whether a cumulative sum reached the mass (rounding of the sums)."""
    return 1e-12 if dtype == torch.float64 else 1e-6


def k90(weights: torch.Tensor, mass: float = MASS) -> torch.Tensor:
    """Exact k per row: the smallest number of largest weights whose sum reaches ``mass`` of the row's total.

    ``weights`` is (B, N), non-negative, not necessarily normalized (each row is divided by its own sum).
    Returns (B,) int64. Rows are first tried with a top-64 selection; only rows whose top 64 weights do not
    reach the mass are sorted in full, so retrieval-like rows cost O(N) and spread rows O(N log N).
    """
    if weights.dim() != 2:
        raise ValueError(f"weights must be (B, N), got shape {tuple(weights.shape)}")
    n_rows, n = weights.shape
    out = torch.empty(n_rows, dtype=torch.int64, device=weights.device)
    if n_rows == 0:
        return out
    if n == 0:
        raise ValueError("weights must have at least one column")
    acc = torch.float64 if weights.dtype == torch.float64 else torch.float32
    total = weights.sum(dim=1, dtype=acc)  # (B,)
    # A prefix "reaches" the mass up to rounding: ten weights of 0.1 sum to 0.8999999999999999 in float64.
    target = mass * total * (1.0 - reach_tolerance(acc))
    k0 = min(n, _TOPK_FIRST)
    top = torch.topk(weights, k0, dim=1, sorted=True).values
    csum = top.cumsum(dim=1, dtype=acc)  # (B, k0)
    # The number of prefixes still below the target, plus one, is the first prefix that reaches it.
    below = (csum < target[:, None]).sum(dim=1)
    resolved = below < k0
    out[resolved] = below[resolved] + 1
    if k0 == n:
        out[~resolved] = n
        return out.clamp_(max=n)
    rest = (~resolved).nonzero().flatten()
    if rest.numel():
        values = torch.sort(weights[rest], dim=1, descending=True).values
        csum = values.cumsum(dim=1, dtype=acc)
        out[rest] = ((csum < target[rest, None]).sum(dim=1) + 1).clamp_(max=n)
    return out


def fixed_point_kind(k90: torch.Tensor | int, n_patterns: int) -> torch.Tensor | str:
    """Kind of fixed point from k90: 'single' (k90 == 1), 'global' (k90 > N/2), 'metastable' otherwise.

    For a tensor returns int64 codes indexing ``KINDS`` (0 single, 1 metastable, 2 global); for an int returns
    the name. 'global' uses the paper's class I threshold k > N/2 (Section 4). When N == 1 the single pattern
    is both; it is reported 'single'.
    """
    if n_patterns < 1:
        raise ValueError(f"n_patterns must be >= 1, got {n_patterns}")
    if isinstance(k90, torch.Tensor):
        codes = torch.ones_like(k90, dtype=torch.int64)
        codes[k90 * 2 > n_patterns] = 2
        codes[k90 <= 1] = 0
        return codes
    k = int(k90)
    if k <= 1:
        return "single"
    if 2 * k > n_patterns:
        return "global"
    return "metastable"


def head_class(k_median: float, n_keys: int) -> str:
    """The paper's head class from k-bar (median k over queries) and N keys (Section 4, Fig. A.3).

    I: k > N/2, II: N/8 < k <= N/2, III: N/32 < k <= N/8, IV: k <= N/32. Comparisons are done as k * 2 > N etc.
    so no rounding of N/8 or N/32 is involved.
    """
    if n_keys < 1:
        raise ValueError(f"n_keys must be >= 1, got {n_keys}")
    k = float(k_median)
    if 2 * k > n_keys:
        return "I"
    if 8 * k > n_keys:
        return "II"
    if 32 * k > n_keys:
        return "III"
    return "IV"
