"""Theory of Ramsauer et al. (2021) as library functions: separation, retrieval bounds, capacity (torch + math).

Patterns are rows, shape (N, d). References: Section 2 and appendix A.1.5-A.1.6 (separation, Theorems 4-5),
Theorem 3 (capacity), Lemma A3 (global fixed point); classical capacities from Amit et al. and McEliece et al.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hopfield_cli.core.scaling import plan_scaling
from hopfield_cli.core.streaming import max_norm

_BLOCK_ELEMS = 1 << 22  # Gram rows are formed in blocks of at most this many entries (16 MiB of float32)
SEPARATION_ROWS = 256  # rows of one Gram block at least: wide enough for fast products at large N
MEAN_CHUNK = 1 << 16  # rows per float64 block of ``mean_spread``


def separation(
    patterns: torch.Tensor,
    chunk: int | None = None,
    rows: torch.Tensor | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Delta_i = x_i^T x_i - max_{j != i} x_i^T x_j (Section 2), for every pattern or for ``rows`` only.

    Each Delta_i is exact (compared with all N patterns); the Gram matrix is formed in (``chunk`` rows x
    columns) blocks of at most 2^22 entries with a running max over the columns, so any N needs O(1) memory. With one pattern there is no j != i and Delta is +inf.
    Patterns whose Gram entries would overflow are measured in scaled units (``scaling``); Delta then comes
    back in float64. ``dtype``: the Gram blocks' dtype (None: float64 for float64 patterns, else float32); float64
    for float32 patterns converts one block at a time, never the whole matrix.
    """
    n = patterns.shape[0]
    acc = dtype or (torch.float64 if patterns.dtype == torch.float64 else torch.float32)
    norm = max_norm(patterns)
    units = plan_scaling(
        norm, norm, n, 1.0, dtype=acc, acc=acc
    )  # Delta scales as M^2: no Gram entry overflows
    dev = patterns.device
    index = torch.arange(n, device=dev) if rows is None else rows.to(dev)
    chunk = chunk or max(SEPARATION_ROWS, _BLOCK_ELEMS // max(n, 1))
    columns = max(1, _BLOCK_ELEMS // chunk)  # (chunk, columns) Gram blocks: all N at once for small N
    out = torch.empty(index.numel(), dtype=acc, device=dev)
    for start in range(0, index.numel(), chunk):
        idx = index[start : start + chunk]
        xr = units.down(patterns[idx].to(acc))  # (r, d)
        self_dot = torch.empty(idx.numel(), dtype=acc, device=dev)
        best = torch.full((idx.numel(),), -torch.inf, dtype=acc, device=dev)
        for c0 in range(0, n, columns):
            gram = xr @ units.down(patterns[c0 : c0 + columns].to(acc)).T  # (r, columns)
            local = ((idx >= c0) & (idx < c0 + gram.shape[1])).nonzero().squeeze(1)
            if local.numel():
                self_dot[local] = gram[local, idx[local] - c0]
                gram[local, idx[local] - c0] = -torch.inf
            torch.maximum(best, gram.amax(dim=1), out=best)
        out[start : start + idx.numel()] = self_dot - best
    return units.squared_up(out)


def well_separated_threshold(n_patterns: int, beta: float, norm_max: float) -> float:
    """The separation needed for retrieval: 2/(beta N) + (1/beta) log(2 (N-1) N beta M^2) (Section 2).

    -inf where nothing needs separating (N < 2) and at M = 0, the formula's limit (all patterns are the zero
    vector, a fixed point of the update). The logs are summed, not the product formed, so no beta underflows,
    and a beta too small for the threshold to be a float gives +-inf, never NaN.
    """
    n = n_patterns
    if n < 2 or norm_max == 0.0:
        return -math.inf
    logs = math.log(2.0 * (n - 1) * n) + math.log(beta) + 2.0 * math.log(norm_max)
    return (2.0 / n + logs) / beta  # one division: at a subnormal beta, inf - inf would be NaN


def well_separated(patterns: torch.Tensor, beta: float) -> torch.Tensor:
    """Bool mask (N,): Delta_i >= 2/(beta N) + (1/beta) log(2 (N-1) N beta M^2), M = max_i ||x_i||.

    A well-separated x_i has a fixed point x_i* in the sphere S_i = {xi : ||xi - x_i|| <= 1/(beta N M)} and the
    update maps S_i into itself (Theorem 4's setting).
    """
    norm_max = float(torch.linalg.vector_norm(patterns.double(), dim=1).max())
    return separation(patterns) >= well_separated_threshold(patterns.shape[0], beta, norm_max)


def theorem5_bound(
    delta: torch.Tensor | float,
    distance: torch.Tensor | float,
    *,
    n_patterns: int,
    beta: float,
    norm_max: float,
    fixed_point_distance: torch.Tensor | float = 0.0,
) -> torch.Tensor:
    """Theorem 5: ||f(xi) - x_i|| <= 2 (N-1) exp(-beta (Delta_i - 2 max{||xi - x_i||, ||x_i* - x_i||} M)) M.

    ``distance`` = ||xi - x_i||; ``fixed_point_distance`` = ||x_i* - x_i|| (at most 1/(beta N M) for a
    well-separated pattern; 0 is its lower limit). Evaluated in log space so it never overflows to nan.
    """
    delta = torch.as_tensor(delta, dtype=torch.float64)
    dist = torch.maximum(
        torch.as_tensor(distance, dtype=torch.float64),
        torch.as_tensor(fixed_point_distance, dtype=torch.float64),
    )
    log_bound = math.log(2.0 * max(n_patterns - 1, 0) * norm_max) - beta * (delta - 2.0 * dist * norm_max)
    return torch.exp(log_bound) if n_patterns > 1 else torch.zeros_like(log_bound)


def pattern_mean(patterns: torch.Tensor, chunk: int = MEAN_CHUNK) -> torch.Tensor:
    """m_x = (1/N) sum_i x_i in float64, (d,), summed in row blocks (no float64 copy of the patterns)."""
    total = torch.zeros(patterns.shape[1], dtype=torch.float64, device=patterns.device)
    for start in range(0, patterns.shape[0], chunk):
        total += patterns[start : start + chunk].double().sum(dim=0)
    return total / max(patterns.shape[0], 1)


def mean_spread(patterns: torch.Tensor, mean: torch.Tensor | None = None, chunk: int = MEAN_CHUNK) -> float:
    """m_max = max_i ||x_i - m_x||, m_x the mean pattern (Lemma A3), in float64 row blocks."""
    mean = pattern_mean(patterns, chunk) if mean is None else mean
    return max(
        float(torch.linalg.vector_norm(patterns[i : i + chunk].double() - mean, dim=1).max())
        for i in range(0, patterns.shape[0], chunk)
    )


def norm_max64(patterns: torch.Tensor, chunk: int = MEAN_CHUNK) -> float:
    """M = max_i ||x_i||, each norm in float64 (as the summaries report it), in row blocks."""
    return max(
        float(torch.linalg.vector_norm(patterns[i : i + chunk].double(), dim=1).max())
        for i in range(0, patterns.shape[0], chunk)
    )


def global_fixed_point(patterns: torch.Tensor, beta: float) -> bool:
    """Lemma A3: beta * m_max^2 < 1 gives a single (global) fixed point near the mean, all p_i ~ 1/N."""
    return beta * mean_spread(patterns) ** 2 < 1.0


def lambert_w0(x: float) -> float:
    """Principal branch W0 of the Lambert W function, x >= -1/e, by Halley iterations (plain math)."""
    if math.isnan(x) or x < -1.0 / math.e - 1e-15:
        raise ValueError(f"W0 is real only for x >= -1/e, got {x}")
    if x == 0.0:
        return 0.0
    if math.isinf(x):
        return math.inf
    if x < -0.32:  # branch point: series in p = sqrt(2 (e x + 1))
        p = math.sqrt(max(2.0 * (math.e * x + 1.0), 0.0))
        w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p**3
    elif x < 3.0:
        w = math.log1p(x) * (1.0 - math.log1p(math.log1p(x)) / (2.0 + math.log1p(x))) if x > 0 else x
    else:
        lx = math.log(x)
        w = lx - math.log(lx) + math.log(lx) / lx
    for _ in range(64):
        ew = math.exp(w)
        f = w * ew - x
        wp1 = w + 1.0
        if wp1 == 0.0:
            break
        step = f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
        w -= step
        if abs(step) <= 1e-15 * (1.0 + abs(w)):
            break
    return w


def lambert_w0_exp(y: float) -> float:
    """W0(exp(y)) without forming exp(y): solves w + log w = y (Newton) when exp(y) would overflow."""
    if y < 700.0:
        return lambert_w0(math.exp(y))
    w = y - math.log(y)
    for _ in range(64):
        step = (w + math.log(w) - y) / (1.0 + 1.0 / w)
        w -= step
        if abs(step) <= 1e-15 * w:
            break
    return w


@dataclass(frozen=True)
class CapacityBound:
    """Theorem 3 for random patterns on the sphere of radius M = K sqrt(d - 1) with failure probability p.

    Where the theorem does not apply (d < 2, K = 0, ...) every number is NaN, ``condition_holds`` is False and
    ``not_applicable`` says why. A guaranteed N beyond float64 (d in the thousands) is +inf.
    """

    a: float
    b: float
    c: float
    condition_holds: bool  # c >= (2 / sqrt(p))^(4 / (d - 1))
    n_guaranteed: float  # sqrt(p) c^((d - 1) / 4), meaningful when condition_holds
    not_applicable: str = ""  # empty when the bound applies


def _exp(value: float) -> float:
    """exp that gives +inf (not OverflowError) beyond float64."""
    return math.exp(value) if value < 709.0 else math.inf


def capacity_bound(beta: float, k: float, dim: int, p: float) -> CapacityBound:
    """Theorem 3: a = 2/(d-1) (1 + log(2 beta K^2 p (d-1))), b = 2 K^2 beta / 5, c = b / W0(exp(a + log b)).

    If c >= (2/sqrt(p))^(4/(d-1)), then with probability 1-p at least sqrt(p) c^((d-1)/4) patterns are stored.
    Worked values: beta=1, K=3, d=20, p=0.001 -> c = 3.1546, N >= 7.4; beta=1, K=1, d=75 -> c = 1.3719, N >= 11.0.
    Evaluated in logs, so any positive finite beta and K give finite a and log c: with y = a + log b and
    W = W0(e^y), log W = y - W, hence log c = log b - log W = W - a (at tiny beta W -> 0 and c -> e^-a).
    Outside the theorem's setting (d < 2, K or beta not positive and finite, p outside (0, 1)) nothing is
    raised: the result is NaN with ``not_applicable`` saying why.
    """
    reasons = [
        (dim < 2, f"d = {dim}: the theorem needs d >= 2"),
        (not (0.0 < p < 1.0), f"p = {p}: the theorem needs 0 < p < 1"),
        (not (0.0 < beta < math.inf), f"beta = {beta}: the theorem needs a positive finite beta"),
        (not (0.0 < k < math.inf), f"K = {k}: the theorem needs patterns of positive finite norm"),
    ]
    for failed, reason in reasons:
        if failed:
            nan = math.nan
            return CapacityBound(
                a=nan, b=nan, c=nan, condition_holds=False, n_guaranteed=nan, not_applicable=reason
            )
    log_k2 = 2.0 * math.log(k)
    a = 2.0 / (dim - 1) * (1.0 + math.log(2.0 * p * (dim - 1)) + math.log(beta) + log_k2)
    log_b = math.log(0.4) + log_k2 + math.log(beta)
    log_c = lambert_w0_exp(a + log_b) - a
    holds = log_c >= 4.0 / (dim - 1) * math.log(2.0 / math.sqrt(p))
    n = _exp(0.5 * math.log(p) + (dim - 1) / 4.0 * log_c)
    return CapacityBound(a=a, b=_exp(log_b), c=_exp(log_c), condition_holds=holds, n_guaranteed=n)


def classical_capacity(dim: int) -> dict[str, float]:
    """Classical binary Hopfield capacities: 0.138 d (Amit et al.), d/(2 log d) and d/(4 log d) (McEliece et al.)."""
    return {
        "amit_0.138d": 0.138 * dim,
        "mceliece_one_pattern": dim / (2.0 * math.log(dim)),
        "mceliece_all_patterns": dim / (4.0 * math.log(dim)),
    }


def argmax_capacity(dim: int, flipped: int, threshold: float = 0.9) -> float:
    """The exact large-beta capacity of random +-1 patterns for queries with ``flipped`` of d bits flipped.

    At large beta the update retrieves the pattern of largest overlap (argmax). The target's overlap with the
    query is d - 2 flipped; another random pattern ties or beats it when its Hamming distance to the query is at
    most ``flipped``, with probability q = P[Bin(d, 1/2) <= flipped], independently of the other patterns. A
    query then succeeds with probability (1 - q)^(N - 1), which equals ``threshold`` at
    N* = 1 + ln(threshold) / ln(1 - q) (1.64e7 at d = 128, flipped = 32). q is summed exactly (integers).
    """
    if dim < 1 or not 0 <= flipped <= dim:
        raise ValueError(f"need d >= 1 and 0 <= flipped <= d, got d={dim}, flipped={flipped}")
    q = sum(math.comb(dim, k) for k in range(flipped + 1)) / 2**dim
    if q >= 1.0:
        return 1.0
    return 1.0 + math.log(threshold) / math.log1p(-q)
