"""The capacity table of `hopfield capacity-sweep`: measured capacity, its interval, theory, fits over d.

Capacity of a series (model, beta, d) = the largest tested N whose success rate, pooled over trials, is
>= threshold; per-trial capacities (same rule, one trial's rate) give the median, quartiles and range.
Theory beside it: 0.138 d (Amit et al.), d/(2 log d) and d/(4 log d) (McEliece et al.) for the classical
network; Theorem 3 of Ramsauer et al. (2021) for the modern one; and the least-squares fit of log capacity
vs d per (model, beta), which Theorem 3 predicts to be linear (exponential capacity).

Not applicable is NaN: the ``theory_*`` columns outside the classical network (and for d < 2), the ``thm3_*``
columns outside the modern network or where Theorem 3 does not apply (d < 2, all-zero patterns; ``theory_note``
says why), the ``fit_*`` columns with fewer than two dims of capacity > 0, and ``beta`` for families without
one. ``thm3_n`` is +inf where the guaranteed N exceeds float64 (d in the thousands).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from hopfield_cli.core.models import EXPONENTIAL_MODELS
from hopfield_cli.report.console import say, show

THEOREM3_P = 0.001  # failure probability of Theorem 3's bound
# Families with a capacity exponential in d (Theorem 3; the exponential and sparse memories' own theorems).
EXPONENTIAL_FAMILIES = EXPONENTIAL_MODELS  # the registry's families whose capacity grows exponentially


def outcome(success: Any, result: Any) -> dict[str, Any]:
    """The columns of a (N, trial) row that a retrieval decides: queries, successes, rate, steps, convergence."""
    return {
        "num_queries": int(success.numel()),
        "successes": int(success.sum()),
        "success_rate": float(success.float().mean()),
        "steps_mean": float(result.steps.float().mean()),
        "converged_fraction": float(result.converged.float().mean()),
    }


def pooled_rates(rows: list[dict[str, Any]]) -> dict[int, float]:
    by_n: dict[int, list[int]] = {}
    for r in rows:
        s = by_n.setdefault(int(r["num_patterns"]), [0, 0])
        s[0] += int(r["successes"])
        s[1] += int(r["num_queries"])
    return {n: s / max(q, 1) for n, (s, q) in by_n.items()}


def _capacity(rates: dict[int, float], threshold: float) -> int:
    """Largest tested N whose success rate is >= threshold; 0 when none is."""
    return max((n for n, r in rates.items() if r >= threshold), default=0)


def capacity_table(
    results: pd.DataFrame, series: list, cfg: Any, limit: int, pattern_norms: dict
) -> pd.DataFrame:
    """One row per (model, beta, d): capacity, its interval over trials, the theory, the fit over d."""
    from hopfield_cli.core import theory

    threshold = cfg.threshold
    source = "memory file" if cfg.memory is not None else cfg.patterns.name
    records = []
    for s in series:
        part = results[(results.model == s.model) & (results.dim == s.dim)]
        part = part[part.beta.isna()] if s.beta is None else part[part.beta == s.beta]
        rates = pooled_rates(part.to_dict("records"))
        capacity = _capacity(rates, threshold)
        per_trial = [
            _capacity(dict(zip(g.num_patterns.astype(int), g.success_rate, strict=True)), threshold)
            for _, g in part.groupby("trial")
        ]
        tested = sorted(rates)
        censored = ""
        if capacity == 0:
            censored = "below smallest N"
        elif capacity == max(tested) and capacity >= limit:
            censored = f"never failed up to N={limit:,}"
        row = {
            "model": s.model,
            "beta": float("nan") if s.beta is None else s.beta,
            "dim": s.dim,
            "capacity": capacity,
            "capacity_trial_median": float(np.median(per_trial)),
            "capacity_trial_q25": float(np.quantile(per_trial, 0.25)),
            "capacity_trial_q75": float(np.quantile(per_trial, 0.75)),
            "capacity_trial_min": int(min(per_trial)),
            "capacity_trial_max": int(max(per_trial)),
            "censored": censored,
            "cells": len(tested),
            "n_tested_max": max(tested),
            "threshold": threshold,
            "success": cfg.success,
        }
        d = s.dim
        classical = theory.classical_capacity(d) if s.model == "classical" and d >= 2 else {}
        row["theory_amit_0138d"] = classical.get("amit_0.138d", float("nan"))
        row["theory_mceliece_d_2logd"] = classical.get("mceliece_one_pattern", float("nan"))
        row["theory_mceliece_d_4logd"] = classical.get("mceliece_all_patterns", float("nan"))
        row.update(
            thm3_k=float("nan"), thm3_c=float("nan"), thm3_condition=None, thm3_n=float("nan"), theory_note=""
        )
        row["theory_argmax"] = _argmax_theory(cfg, s.model, d, threshold)
        if s.model == "modern":
            # M = K sqrt(d-1), M the largest norm; d = 1 has no K (Theorem 3 does not apply)
            k = pattern_norms[d] / math.sqrt(d - 1) if d >= 2 else math.nan
            bound = theory.capacity_bound(float(s.beta), k, d, THEOREM3_P)
            if bound.not_applicable:
                row["theory_note"] = f"Theorem 3 does not apply: {bound.not_applicable}"
            else:
                row.update(
                    thm3_k=k,
                    thm3_c=bound.c,
                    thm3_condition=bool(bound.condition_holds),
                    thm3_n=bound.n_guaranteed,
                )
                row["theory_note"] = _theorem3_note(source, bound)
        records.append(row)
    table = pd.DataFrame(records)
    return add_fits(table)


def _argmax_theory(cfg: Any, model: str, d: int, threshold: float) -> float:
    """The exact large-beta capacity (``theory.argmax_capacity``) where it applies: the modern network on drawn
    +-1 patterns with queries flipped in exactly round(p d) bits; NaN elsewhere."""
    from hopfield_cli.core import theory
    from hopfield_cli.data.corruption import num_changed

    corruption = cfg.corruption
    if model != "modern" or cfg.memory is not None or cfg.patterns.name != "binary":
        return float("nan")
    if getattr(corruption, "name", None) != "flip" or cfg.normalise != "none":
        return float("nan")
    return theory.argmax_capacity(d, num_changed(float(corruption.p), d), threshold)


def _theorem3_note(source: str, bound: Any) -> str:
    """What Theorem 3's numbers mean for this sweep's patterns."""
    note = (
        "Theorem 3 (p=0.001) on the sphere, as here"
        if source == "sphere"
        else f"Theorem 3 assumes random patterns on the sphere; source={source}: indicative only"
    )
    if not bound.condition_holds:
        return note + "; its condition c >= (2/sqrt p)^(4/(d-1)) fails: no guarantee"
    note += (
        "; it counts patterns retrievable from a small neighbourhood, so corrupted queries may store fewer"
    )
    return note + ("; the guaranteed N exceeds float64 (inf)" if math.isinf(bound.n_guaranteed) else "")


def add_fits(table: pd.DataFrame) -> pd.DataFrame:
    """Least squares of log(capacity) vs d per (model, beta): slope, intercept, R^2 (>= 2 dims with capacity > 0).

    Theorem 3 proves exponential scaling in d, so for the modern network log capacity should grow linearly.
    Only the families whose capacity theory is exponential in d are fitted (``EXPONENTIAL_FAMILIES``): the
    classical network's capacity is linear in d (0.138 d), the dense one's polynomial (d^(n-1)), and an
    exponential through them would suggest a law nobody claims.
    """
    table = table.assign(fit_log_slope=float("nan"), fit_log_intercept=float("nan"), fit_r2=float("nan"))
    for (model, _beta), group in table.groupby(["model", "beta"], dropna=False):
        ok = group[group.capacity > 0]
        if model not in EXPONENTIAL_FAMILIES:
            continue
        if ok.dim.nunique() < 2:
            continue
        x, y = ok.dim.to_numpy(float), np.log(ok.capacity.to_numpy(float))
        slope, intercept = np.polyfit(x, y, 1)
        residual = y - (slope * x + intercept)
        spread = ((y - y.mean()) ** 2).sum()
        r2 = 1.0 - (residual**2).sum() / spread if spread > 0 else 1.0
        table.loc[group.index, ["fit_log_slope", "fit_log_intercept", "fit_r2"]] = [slope, intercept, r2]
    return table


def _num(value: Any, fmt: str = "{:.3g}") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)


def _theory(r: dict[str, Any]) -> str:
    """The theory beside one measurement, one value per line (a cell that folds, never an ellipsis)."""
    if r["model"] == "classical" and not math.isnan(r["theory_amit_0138d"]):
        return f"0.138d = {r['theory_amit_0138d']:.3g}\nd/2ln d = {r['theory_mceliece_d_2logd']:.3g}"
    if not math.isnan(r["thm3_n"]):
        holds = "" if r["thm3_condition"] else " (fails)"
        return f"Thm 3: {r['thm3_n']:.3g}\nc = {r['thm3_c']:.3g}{holds}"
    return "-"


def setting(cfg: Any) -> str:
    """The sweep's setting in one line, for the table's and the figures' captions."""
    from hopfield_cli.config import option_text
    from hopfield_cli.experiments.scoring import SUCCESS_DEFAULT_TOL

    tol = cfg.success_tol if cfg.success_tol is not None else SUCCESS_DEFAULT_TOL.get(cfg.success)
    source = "memory file" if cfg.memory is not None else option_text(cfg.patterns)
    return (
        f"patterns: {source}; corruption: {option_text(cfg.corruption)}; {cfg.trials} trials x "
        f"{cfg.num_queries} queries per N; success: {cfg.success}"
        + (f" (tol {tol:g})" if tol is not None else "")
    )


def summary_table(capacity: pd.DataFrame, cfg: Any) -> Any:
    """The capacity table as Rich renders it: model, beta, d and capacity never wrap (they fit 80 columns
    together); the per-trial range and the theory fold onto more lines when the width is short."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"capacity = largest N with success >= {cfg.threshold:g} ({cfg.success})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption=setting(cfg)
        + ". per trial: min-max of the trials' capacities; Thm 3: N guaranteed by Theorem 3 (p = 0.001) "
        "and its c; 0.138d: Amit et al.; d/2ln d: McEliece et al.",
        caption_justify="left",
    )
    for name, numeric in (("model", False), ("beta", True), ("d", True), ("capacity", True)):
        table.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    table.add_column("per trial", justify="right", overflow="fold", min_width=7)
    table.add_column("theory", justify="left", overflow="fold", min_width=12)
    for r in capacity.to_dict("records"):
        cap = f"{r['capacity']:,}" + ("+" if str(r["censored"]).startswith("never") else "")
        table.add_row(
            r["model"],
            _num(r["beta"], "{:g}"),
            str(r["dim"]),
            cap,
            f"{r['capacity_trial_min']:,}-{r['capacity_trial_max']:,}",
            _theory(r),
        )
    return table


def fit_lines(capacity: pd.DataFrame) -> list[str]:
    """One line per fitted (model, beta): capacity ~ exp(slope d) over the measured dims, with R^2."""
    lines = []
    for (model, beta), group in capacity.groupby(["model", "beta"], dropna=False, sort=False):
        if group.fit_log_slope.notna().any():
            r = group.iloc[0]
            dims = ", ".join(str(d) for d in sorted(group.dim))
            label = model if beta != beta else f"{model} beta={beta:g}"
            lines.append(
                f"fit: {label}: capacity ~ exp({r.fit_log_slope:.3g} d) over d = {dims} (R^2 {r.fit_r2:.3f})"
            )
    return lines


def print_summary(capacity: pd.DataFrame, cfg: Any, seconds: float, computed: int, resumed: int) -> None:
    """The capacity table with the theory beside it, then the fits over d and the notes."""
    show(summary_table(capacity, cfg))
    records = capacity.to_dict("records")
    for line in fit_lines(capacity):
        say(line)
    for note in sorted({r["theory_note"] for r in records if r["theory_note"]}):
        show(f"note: {note}")
    for r in (r for r in records if r["censored"]):
        say(f"note: {r['model']} d={r['dim']}: {r['censored']} (raise n_max or lower n_start)")
    say(f"{computed} cells computed, {resumed} resumed, {seconds:.1f} s")
