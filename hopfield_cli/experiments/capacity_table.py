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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hopfield_cli.report.console import console

THEOREM3_P = 0.001  # failure probability of Theorem 3's bound


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

    threshold = float(cfg.threshold)
    source = "memory file" if cfg.memory is not None else str(cfg.patterns.name)
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
    """
    table = table.assign(fit_log_slope=float("nan"), fit_log_intercept=float("nan"), fit_r2=float("nan"))
    for _, group in table.groupby(["model", "beta"], dropna=False):
        ok = group[group.capacity > 0]
        if ok.dim.nunique() < 2:
            continue
        x, y = ok.dim.to_numpy(float), np.log(ok.capacity.to_numpy(float))
        slope, intercept = np.polyfit(x, y, 1)
        residual = y - (slope * x + intercept)
        spread = ((y - y.mean()) ** 2).sum()
        r2 = 1.0 - (residual**2).sum() / spread if spread > 0 else 1.0
        table.loc[group.index, ["fit_log_slope", "fit_log_intercept", "fit_r2"]] = [slope, intercept, r2]
    return table


def print_summary(
    capacity: pd.DataFrame, cfg: Any, seconds: float, computed: int, resumed: int, run_dir: Path
) -> None:
    """The capacity table on the console (Rich), theory beside the measurement; notes below it."""
    from rich.table import Table

    def num(value: Any, fmt: str = "{:.3g}") -> str:
        return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)

    table = Table(
        title=f"capacity: largest N with success >= {cfg.threshold:g} ({cfg.success}), {cfg.trials} trials",
        title_justify="left",
        caption="trials: median \\[min, max] of per-trial capacities; Thm 3: guaranteed N (c); fit: d log N/dd (R^2)",
        caption_justify="left",
    )
    for name in ("model", "beta", "d", "capacity", "trials", "0.138d", "d/2ln d", "Thm 3", "fit"):
        # the model name never wraps (it is what a reader looks for); numbers may wrap in a narrow terminal
        table.add_column(name, justify="left" if name == "model" else "right", no_wrap=name == "model")
    for r in capacity.to_dict("records"):
        cap = f"{r['capacity']:,}" + ("+" if str(r["censored"]).startswith("never") else "")
        thm3 = "-" if math.isnan(r["thm3_n"]) else f"{r['thm3_n']:.3g} ({r['thm3_c']:.3g})"
        fit = "-" if math.isnan(r["fit_log_slope"]) else f"{r['fit_log_slope']:.3g} ({r['fit_r2']:.2f})"
        table.add_row(
            r["model"],
            num(r["beta"], "{:g}"),
            str(r["dim"]),
            cap,
            f"{r['capacity_trial_median']:g} [{r['capacity_trial_min']:,}, {r['capacity_trial_max']:,}]",
            num(r["theory_amit_0138d"]),
            num(r["theory_mceliece_d_2logd"]),
            thm3,
            fit,
        )
    console.print(table)
    for note in sorted({r["theory_note"] for r in capacity.to_dict("records") if r["theory_note"]}):
        console.print(f"note: {note}")
    censored = [r for r in capacity.to_dict("records") if r["censored"]]
    for r in censored:
        console.print(f"note: {r['model']} d={r['dim']}: {r['censored']} (raise n_max or lower n_start)")
    console.print(f"{computed} cells computed, {resumed} resumed, {seconds:.1f} s; results in {run_dir}")
