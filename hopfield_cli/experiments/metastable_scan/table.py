"""What a finished metastable scan reports: the per-beta table, where the dominant kind changes, the console
summary beside the theory scales (Lemma A3, Section 2, Lemma A12) and the figures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from hopfield_cli.core.fixed_points import UNCONVERGED
from hopfield_cli.experiments.beta_scales import BetaScales
from hopfield_cli.report.console import key_value_table, show

SCAN_KINDS = ("global", "metastable", "single")  # in the order beta meets them
LABELS = (*SCAN_KINDS, UNCONVERGED)  # a query without a fixed point has no kind (``fixed_points``)


def per_beta_table(queries: pd.DataFrame, m_max: float) -> pd.DataFrame:
    """One row per beta: fraction of each kind and of unconverged queries, dominant label, median k90, mean
    energy and steps."""
    rows = []
    for beta, group in queries.groupby("beta", sort=True):
        fractions = {kind: float((group["kind"] == kind).mean()) for kind in LABELS}
        row = {
            "beta": float(beta),
            "beta_m_max_sq": float(beta) * m_max**2,
            "num_queries": len(group),
            **{f"frac_{kind}": fractions[kind] for kind in LABELS},
            "dominant_kind": max(LABELS, key=lambda k: fractions[k]),
            "median_k90": float(group["k90"].median()),
            "k90_q25": float(group["k90"].quantile(0.25)),
            "k90_q75": float(group["k90"].quantile(0.75)),
            "median_max_weight": float(group["max_weight"].median()),
            "median_dist_mean": float(group["dist_mean"].median()),
            "median_dist_nearest": float(group["dist_nearest"].median()),
            "mean_energy": float(group["energy"].mean()),
            "mean_steps": float(group["steps"].mean()),
            "max_steps": int(group["steps"].max()),
            "frac_converged": float(group["converged"].mean()),
        }
        if "cluster_mass" in group:
            row["median_cluster_mass"] = float(group["cluster_mass"].median())
            row["median_dist_cluster_mean"] = float(group["dist_cluster_mean"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def dominant_changes(per_beta: pd.DataFrame) -> list[dict[str, Any]]:
    """Where the dominant kind changes between neighbouring betas (beta = their geometric mean)."""
    changes = []
    kinds, betas = per_beta["dominant_kind"].tolist(), per_beta["beta"].tolist()
    for i in range(1, len(kinds)):
        if kinds[i] != kinds[i - 1]:
            changes.append(
                {
                    "from": kinds[i - 1],
                    "to": kinds[i],
                    "beta_below": betas[i - 1],
                    "beta_above": betas[i],
                    "beta": math.sqrt(betas[i - 1] * betas[i]),
                }
            )
    return changes


def print_summary(
    per_beta: pd.DataFrame, scales: BetaScales, changes: list[dict], n: int, seconds: float
) -> None:
    """The per-beta table, then the theory scales beside the measured transitions."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"metastable-scan: fixed-point kinds across beta (N = {n})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="fractions of queries by kind (unconv: no fixed point within update_steps_max, no kind); "
        "k90 median; energy (Eq. 2) and steps mean; conv = fraction converged",
        caption_justify="left",
    )
    for name in ("beta", "beta*m_max^2", *SCAN_KINDS, "unconv", "k90", "energy", "steps", "conv"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in per_beta.itertuples():
        table.add_row(
            f"{r.beta:.3g}",
            f"{r.beta_m_max_sq:.3g}",
            f"{r.frac_global:.2f}",
            f"{r.frac_metastable:.2f}",
            f"{r.frac_single:.2f}",
            f"{r.frac_unconverged:.2f}",
            f"{r.median_k90:g}",
            f"{r.mean_energy:.4g}",
            f"{r.mean_steps:.1f}",
            f"{r.frac_converged:.2f}",
        )
    show(table)
    rows: list[tuple[str, Any]] = [
        ("m_max = max ||x_i - m_x||", scales.m_max),
        ("1 / m_max^2 (global fixed point below)", scales.beta_global),
        ("well separated from (Delta_i > 0 patterns)", scales.beta_separated),
        ("min separation Delta" + _sampled(scales, n), scales.separation_min),
        ("patterns never well separated (Delta <= 0)", _of_sample(scales.never_separated, scales, n)),
    ]
    if math.isfinite(scales.beta_cluster_separated):
        rows += [
            ("cluster centres well separated from", scales.beta_cluster_separated),
            ("cluster-internal 1 / max m_max(l)^2", scales.beta_cluster_internal),
        ]
    rows += [(f"dominant {c['from']} -> {c['to']} at beta", c["beta"]) for c in changes]
    rows.append(("seconds", seconds))
    show(key_value_table("theory scales beside the measured transitions", rows))


def unconverged_warnings(per_beta: pd.DataFrame, update_steps_max: int) -> list[str]:
    """One line when some queries hit update_steps_max without converging (labelled 'unconverged')."""
    counts = (per_beta["frac_unconverged"] * per_beta["num_queries"]).round().astype(int)
    if not int(counts.sum()):
        return []
    hit = per_beta[counts > 0]
    worst = hit.loc[hit["frac_unconverged"].idxmax()]
    return [
        f"update_steps_max: {int(counts.sum()):,} of {int(per_beta['num_queries'].sum()):,} queries at "
        f"{len(hit)} of {len(per_beta)} betas (beta {hit['beta'].min():.3g} .. {hit['beta'].max():.3g}; "
        f"{worst['frac_unconverged']:.0%} at beta {worst['beta']:.3g}) stopped after {update_steps_max} steps "
        "without converging; they are labelled 'unconverged', not given a kind (raise update_steps_max)"
    ]


def scan_setting(cfg: Any, n: int, d: int) -> str:
    """The scan's setting in one line, for the figures' captions."""
    from hopfield_cli.config import option_text

    source = "memory file" if cfg.memory is not None else option_text(cfg.patterns)
    clusters = f" in {cfg.clusters} clusters (spread {cfg.cluster_spread:g})" if cfg.clusters else ""
    queries = option_text(cfg.corruption) if cfg.queries == "corrupted" else "random points"
    return f"N = {n} patterns ({source}{clusters}), d = {d}; {cfg.num_queries} queries per beta: {queries}"


def save_figures(
    work_dir: Path,
    per_beta: pd.DataFrame,
    scales: BetaScales,
    n: int,
    setting: str = "",
    cluster_size: float | None = None,
) -> None:
    """kind_fractions.png and k90_vs_beta.png, with the theory scales marked as what they are: 1/m_max^2 is a
    sufficient bound (Lemma A3: one global fixed point below it), the separation betas are Theorem 4's
    sufficient condition, the cluster-internal beta Lemma A12's; ``cluster_size`` (N / clusters) is drawn on
    the k90 plot, the support a metastable state of one cluster should have."""
    from hopfield_cli.report import figures

    global_bound = "bound (Lemma A3): one global fixed\n  point below 1/m_max^2"
    marks = {
        global_bound: scales.beta_global,
        "sufficient (Sec. 2): every pattern\n  well separated above": scales.beta_separated,
    }
    if math.isfinite(scales.beta_cluster_separated):
        marks = {
            global_bound: scales.beta_global,
            "sufficient (Sec. 2): cluster centres\n  well separated above": scales.beta_cluster_separated,
            "sufficient (Lemma A12): a cluster's metastable\n  state below 1/max m_max(l)^2": (
                scales.beta_cluster_internal
            ),
        }
    marks = {k: v for k, v in marks.items() if math.isfinite(v)}
    betas = per_beta["beta"].tolist()
    fractions = {kind: per_beta[f"frac_{kind}"].tolist() for kind in LABELS if f"frac_{kind}" in per_beta}
    figures.save_kind_fractions(work_dir / "kind_fractions.png", betas, fractions, marks, setting)
    figures.save_k90_vs_beta(
        work_dir / "k90_vs_beta.png",
        betas,
        per_beta["median_k90"].tolist(),
        n,
        marks,
        per_beta["k90_q25"].tolist(),
        per_beta["k90_q75"].tolist(),
        setting,
        cluster_size=cluster_size,
    )


def _of_sample(count: int, scales: Any, n: int) -> Any:
    """A count of patterns, 'k / S sampled' where Delta_i was computed on a sample of S rows."""
    rows = getattr(scales, "separation_rows", 0)
    return f"{count:,} / {rows:,} sampled" if 0 < rows < n else count


def _sampled(scales: Any, n: int) -> str:
    """' (sample of S rows)' where Delta_i was computed on a seeded sample (``beta_scales.separation_sample``)."""
    rows = getattr(scales, "separation_rows", 0)
    return f" (sample of {rows:,} rows)" if 0 < rows < n else ""
