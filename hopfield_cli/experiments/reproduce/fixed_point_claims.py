"""The three kinds of fixed points across beta, from a `hopfield metastable-scan` run on clustered patterns.

The scan's per-beta table (``betas.parquet``) gives, for each beta, the fraction of queries whose fixed
point is global (k90 > N/2), metastable or single (k90 = 1), the median k90 and the median mass of the
query's own cluster (Section 4's k; ``core.fixed_points``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from hopfield_cli.experiments.reproduce.claims import Claim, relative_figure, verdict

SINGLE_MIN = 0.9  # at the largest beta, at least 90% of the queries end on one pattern
CLUSTER_MASS_MIN = 0.9  # a metastable state of one cluster holds >= 90% of its weight in that cluster


def _figure(folder: Path, root: Path) -> str:
    path = folder / "kind_fractions.png"
    return relative_figure(path if path.is_file() else None, root)


def fixed_point_global(per_beta: pd.DataFrame, folder: Path, command: str, root: Path) -> Claim:
    """Lemma A3: beta m_max^2 < 1 gives one fixed point near the mean (all p_i ~ 1/N): every query global."""
    low = per_beta[per_beta.beta_m_max_sq < 1.0]
    worst = float(low.frac_global.min()) if len(low) else math.nan
    return Claim(
        claim="fixed_point_global",
        title="Global averaging below beta m_max^2 < 1",
        statement="If beta m_max^2 < 1 the update has a single fixed point, near the mean of the patterns "
        "(all p_i ~ 1/N).",
        where="Section 2 and A.1.5, Lemma A3",
        command=command,
        theory="every query global (k90 > N/2) where beta m_max^2 < 1",
        measured=f"{len(low)} betas with beta m_max^2 < 1; smallest fraction global {worst:.3f}",
        tolerance="none: all queries at every such beta",
        verdict=verdict(None if low.empty else bool(worst >= 1.0)),
        theory_value=1.0,
        measured_value=worst,
        figure=_figure(folder, root),
        detail="k90 > N/2 is the paper's class I threshold (Section 4)",
    )


def fixed_point_metastable(
    per_beta: pd.DataFrame, folder: Path, command: str, root: Path, cluster: int
) -> Claim:
    """Lemma A12: l similar patterns well separated from the rest give a fixed point near their mean: support l."""
    meta = per_beta[per_beta.frac_metastable >= 0.5]
    if meta.empty or "median_cluster_mass" not in per_beta:
        k, mass, beta = math.nan, math.nan, math.nan
    else:
        first = meta.iloc[0]  # the first beta past global averaging where metastable states dominate
        k, mass, beta = float(first.median_k90), float(first.median_cluster_mass), float(first.beta)
    ok = bool(cluster / 2 <= k <= cluster and mass >= CLUSTER_MASS_MIN) if math.isfinite(k) else False
    return Claim(
        claim="fixed_point_metastable",
        title="Metastable states whose support is the cluster size",
        statement="A group of l similar patterns, well separated from the others, gives a metastable fixed "
        "point near their mean, supported on those l patterns.",
        where="Section 2, A.1.5, Lemma A12 (Fig. 2)",
        command=command,
        theory=f"k90 = l = {cluster} (one cluster)",
        measured=f"at beta = {beta:.3g} (first beta where metastable dominates): median k90 = {k:g}, "
        f"cluster mass {mass:.3f}",
        tolerance=f"l/2 <= k90 <= l and >= {CLUSTER_MASS_MIN:.0%} of the weight inside the query's cluster",
        verdict=verdict(ok),
        theory_value=float(cluster),
        measured_value=k,
        figure=relative_figure(
            folder / "k90_vs_beta.png" if (folder / "k90_vs_beta.png").is_file() else None, root
        ),
        detail="k90 of a state spread evenly over the cluster is l; uneven weights give a little less",
    )


def fixed_point_single(per_beta: pd.DataFrame, folder: Path, command: str, root: Path) -> Claim:
    """Large beta: a pattern well separated from the rest is a fixed point of its own, p one-hot (Theorem 4)."""
    top = per_beta.sort_values("beta").iloc[-1]
    frac = float(top.frac_single)
    return Claim(
        claim="fixed_point_single",
        title="Single-pattern fixed points at large beta",
        statement="At large beta each well-separated pattern has its own fixed point nearby; the softmax "
        "becomes one-hot.",
        where="Section 2, Theorem 4 (Fig. 2)",
        command=command,
        theory="queries end on one pattern (k90 = 1)",
        measured=f"at beta = {float(top.beta):.3g}: fraction single {frac:.3f}",
        tolerance=f">= {SINGLE_MIN:.0%} of the queries (noisy queries near two similar patterns may not decide)",
        verdict=verdict(bool(frac >= SINGLE_MIN)),
        theory_value=1.0,
        measured_value=frac,
        figure=_figure(folder, root),
        detail="largest beta of the scan",
    )
