"""The betas a metastable scan is measured against, from the stored patterns (Section 2, Lemma A3, Lemma A12).

Ramsauer et al. (2021):
- Lemma A3: for beta * m_max^2 < 1, m_max = max_i ||x_i - m_x||, the update (Eq. 3) has one fixed point near the
  mean m_x of all patterns, where every p_i ~ 1/N: ``beta_global`` = 1 / m_max^2;
- Section 2: pattern i is well separated, and has a fixed point next to itself, once
  Delta_i >= 2/(beta N) + (1/beta) log(2 (N-1) N beta M^2) (Delta_i its separation, M the largest norm):
  ``beta_separated`` is the smallest beta at which that holds for every pattern with Delta_i > 0;
- Lemma A12: l similar patterns with beta * m_max(l)^2 <= 1 over those l share a metastable fixed point near their
  mean: for clustered patterns ``beta_cluster_internal`` = 1 / max_l m_max(l)^2 (above it a cluster's metastable
  state breaks into its members) and ``beta_cluster_separated`` the beta at which the cluster centres become
  well separated.

``beta_grid`` spans ``num_betas`` log-spaced betas from 0.1 / m_max^2 (well inside the global regime) to 10x the
largest of these scales, unless the config sets the ends.
"""

from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, replace

import torch

from hopfield_cli.config.commands import MetastableScanConfig
from hopfield_cli.core import theory
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.scan_patterns import ScanPatterns

log = logging.getLogger(__name__)

BETA_MIN_FACTOR = 0.1  # beta_min = 0.1 / m_max^2: beta m_max^2 = 0.1, well below Lemma A3's bound of 1
BETA_MAX_FACTOR = 10.0  # beta_max = 10 x the largest structural scale (BetaScales.upper)

# Above this many patterns the O(N^2 d) separation is taken on a seeded random sample of rows (each sampled
# Delta_i is still exact: compared with ALL patterns), so its minimum is an upper bound. The sample has SAMPLE_ROWS
# rows up to N = 2^18 and SAMPLE_PAIRS / N (at least MIN_SAMPLE_ROWS) beyond: its cost stays O(SAMPLE_PAIRS d)
# (10^6 patterns: 1,073 rows; 10^7: 256). Its size is reported with the statistics.
EXACT_SEPARATION_MAX_N = 20_000
SAMPLE_ROWS = 4_096
SAMPLE_PAIRS = 1 << 30
MIN_SAMPLE_ROWS = 256


def sample_rows(n: int) -> int:
    """Rows of the separation sample for N patterns (all of them up to EXACT_SEPARATION_MAX_N)."""
    if n <= EXACT_SEPARATION_MAX_N:
        return n
    return max(MIN_SAMPLE_ROWS, min(SAMPLE_ROWS, SAMPLE_PAIRS // n))


def separation_sample(n: int, seed: int = 0) -> torch.Tensor | None:
    """The rows whose Delta_i is computed: None (all) up to EXACT_SEPARATION_MAX_N, else a sample drawn with
    ``seed`` (the same rows for the same N and seed)."""
    if n <= EXACT_SEPARATION_MAX_N:
        return None
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: sample_rows(n)]


@dataclass
class BetaScales:
    """Data-derived betas of Section 2 / Lemma A3 / Lemma A12 (NaN where they do not apply)."""

    m_max: float  # max_i ||x_i - m_x||
    beta_global: float  # 1 / m_max^2: below it one global fixed point (Lemma A3)
    separation_min: float  # min_i Delta_i
    never_separated: int  # patterns with Delta_i <= 0: no beta makes them well separated
    beta_separated: float  # smallest beta with every pattern of Delta_i > 0 well separated
    beta_cluster_separated: float = math.nan  # the same for the cluster centres
    beta_cluster_internal: float = math.nan  # 1 / max_l m_max(l)^2 over the clusters (Lemma A12)
    separation_rows: int = 0  # patterns whose Delta_i was computed: all, or a seeded sample (``sample_rows``)

    @property
    def upper(self) -> float:
        """The largest scale at which structure resolves; beta_max defaults to BETA_MAX_FACTOR times it."""
        if math.isfinite(self.beta_cluster_separated):
            return max(self.beta_cluster_separated, _finite_or(self.beta_cluster_internal, 0.0))
        return self.beta_separated


def _finite_or(value: float, default: float) -> float:
    return value if math.isfinite(value) else default


def well_separated_beta(delta: float, n_patterns: int, norm_max: float) -> float:
    """Smallest beta above which Delta >= 2/(beta N) + (1/beta) log(2 (N-1) N beta M^2) holds (Section 2).

    beta * (Delta - threshold(beta)) = beta Delta - 2/N - log(2 (N-1) N M^2) - log(beta) is convex in beta with its
    minimum at 1/Delta, so the condition holds for all beta beyond one root, found by bisection in log beta. (For
    tiny beta the right side turns negative and the condition holds trivially: that branch is ignored.) inf when
    Delta <= 0.
    """
    if n_patterns < 2:
        return 0.0
    if not delta > 0:
        return math.inf

    def holds(beta: float) -> bool:
        return delta >= theory.well_separated_threshold(n_patterns, beta, norm_max)

    lo = hi = 1.0 / delta
    if holds(lo):
        return lo
    while not holds(hi):
        hi *= 2.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
        if hi / lo < 1 + 1e-12:
            break
    return hi


def _separated_beta(patterns: torch.Tensor) -> tuple[float, float, int, int]:
    """(beta at which every pattern with Delta_i > 0 is well separated, min Delta, count of Delta_i <= 0, rows
    computed), Delta_i in float64 Gram blocks over all patterns or a seeded sample (``separation_sample``)."""
    n = patterns.shape[0]
    delta = theory.separation(patterns, rows=separation_sample(n), dtype=torch.float64)
    norm_max = theory.norm_max64(patterns)
    positive = delta[delta > 0]
    beta = well_separated_beta(float(positive.min()), n, norm_max) if positive.numel() else math.inf
    return beta, float(delta.min()), int((delta <= 0).sum()), int(delta.numel())


def beta_scales(data: ScanPatterns) -> BetaScales:
    """The scales of the module docstring; ``core.theory`` supplies Delta_i and m_max (in float64 blocks: no
    float64 copy of the patterns; Delta_i on a seeded sample beyond EXACT_SEPARATION_MAX_N patterns)."""
    x = data.patterns
    m_max = theory.mean_spread(x)
    beta_global = 1.0 / m_max**2 if m_max > 0 else math.inf
    beta_separated, delta_min, never, rows = _separated_beta(x)
    scales = BetaScales(m_max, beta_global, delta_min, never, beta_separated, separation_rows=rows)
    if data.cluster_ids is not None and data.centres is not None:
        inner = max(theory.mean_spread(x[data.cluster_ids == c]) for c in range(data.centres.shape[0]))
        centres_beta, _, _, _ = _separated_beta(data.centres)
        scales = replace(
            scales,
            beta_cluster_separated=centres_beta,
            beta_cluster_internal=1.0 / inner**2 if inner > 0 else math.inf,
        )
    return scales


def beta_grid(cfg: MetastableScanConfig, scales: BetaScales) -> list[float]:
    """``num_betas`` log-spaced betas in [beta_min, beta_max]; unset ends come from ``scales``."""
    if not math.isfinite(scales.beta_global) and (cfg.beta_min is None or cfg.beta_max is None):
        raise UsageError(
            "beta_min",
            "all stored patterns are equal, or there is only one (m_max = 0): set beta_min and beta_max yourself",
        )
    beta_min = cfg.beta_min if cfg.beta_min is not None else BETA_MIN_FACTOR * scales.beta_global
    if cfg.beta_max is not None:
        beta_max = cfg.beta_max
    else:
        upper = scales.upper
        if not math.isfinite(upper):  # no pattern can ever be well separated: go far past the global scale
            upper = 100.0 * scales.beta_global
            log.warning("no pattern is ever well separated (all Delta_i <= 0); beta_max = 1000 / m_max^2")
        beta_max = max(BETA_MAX_FACTOR * upper, 10.0 * beta_min)
    if beta_max <= beta_min:  # one end set, the other from the data
        raise UsageError("beta_max", f"must be > beta_min ({beta_min:.4g}), got {beta_max:.4g}")
    largest = sys.float_info.max / scales.m_max**2 if scales.m_max > 0 else math.inf
    if beta_max > largest:  # the table's beta m_max^2 must be a float64
        raise UsageError(
            "beta_max",
            f"must be at most {largest:.4g} for these patterns (m_max = {scales.m_max:.4g}), got {beta_max:.4g}",
        )
    n = cfg.num_betas
    if n == 1:
        return [float(beta_min)]
    if math.isfinite(beta_max / beta_min):
        ratio = math.log(beta_max / beta_min) / (n - 1)
        return [float(beta_min * math.exp(i * ratio)) for i in range(n)]
    # the ends span more than float64 (e.g. 1e-300 to 1e300): step in log beta, ends exact
    low, high = math.log(beta_min), math.log(beta_max)
    inner = [math.exp(low + i * (high - low) / (n - 1)) for i in range(1, n - 1)]
    return [float(beta_min), *inner, float(beta_max)]
