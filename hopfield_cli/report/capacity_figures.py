"""The capacity sweep's figures: success rate vs N per model, and capacity vs d with the theory beside it.

Made to be shown as they are: models side by side on shared axes, one colour per d (or per model), theory in
grey dashed lines with its name in the legend (hollow markers where Theorem 3's condition fails), a title that
says what the figure shows, a caption line with the setting (patterns, corruption, trials, criterion), and
the x ticks at the d values measured. Drawn on matplotlib ``Figure`` objects (no pyplot) and saved atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullFormatter

from hopfield_cli.report.figures import THEORY, caption, readable_log_axis, save

# One colour per model (Okabe-Ito, readable in gray scale and by colour-blind readers).
MODEL_COLOURS = {
    "modern": "#0072B2",
    "classical": "#D55E00",
    "dense": "#009E73",
    "exponential": "#CC79A7",
    "sparse": "#E69F00",
}


def model_colour(model: str) -> str:
    """A family's colour; a family added later gets the next colour of matplotlib's cycle."""
    return MODEL_COLOURS.get(model) or f"C{(len(MODEL_COLOURS) + sum(map(ord, model))) % 10}"


def _label(model: str, beta: float | None) -> str:
    return model if beta is None or beta != beta else f"{model}, beta = {beta:g}"


def save_success_curves(
    path: str | os.PathLike, results: pd.DataFrame, threshold: float, setting: str
) -> Path:
    """Success rate vs N (log x), one panel per (model, beta) on shared axes, one line per d; the threshold
    dashed. ``results`` is the sweep's tidy table (a row per cell and trial); rates are pooled over trials."""
    pooled = results.groupby(["model", "beta", "dim", "num_patterns"], dropna=False)[
        ["successes", "num_queries"]
    ].sum()
    pooled = (pooled.successes / pooled.num_queries).rename("rate").reset_index()
    betas = [None if b != b else float(b) for b in pooled.beta]  # NaN (no beta) is one key, not many
    order = list(MODEL_COLOURS)
    panels = sorted(
        dict.fromkeys(zip(pooled.model, betas, strict=True)),
        key=lambda p: (order.index(p[0]) if p[0] in order else len(order), p[1] or 0.0),
    )
    dims = sorted(pooled.dim.unique())
    colours = dict(zip(dims, _dim_colours(len(dims)), strict=True))
    fig = Figure(figsize=(3.6 * len(panels) + 0.6, 3.8), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=True, sharey=True)[0]
    for ax, (model, beta) in zip(axes, panels, strict=True):
        own = pooled[(pooled.model == model) & (pooled.beta.isna() if beta is None else pooled.beta == beta)]
        for dim, line in own.groupby("dim"):
            line = line.sort_values("num_patterns")
            ax.plot(
                line.num_patterns, line.rate, marker="o", markersize=3, color=colours[dim], label=f"d = {dim}"
            )
        ax.axhline(threshold, **THEORY, label=f"threshold {threshold:g}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(_label(model, beta))
        ax.set_xlabel("N stored patterns")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("fraction of queries retrieved")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="outside right center")  # never over a curve
    fig.suptitle("Retrieval success falls as more patterns are stored", fontsize="medium")
    caption(fig, setting)
    return save(fig, path)


def _dim_colours(count: int) -> list:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.1 + 0.8 * i / max(count - 1, 1)) for i in range(count)]


def _guarantee_ratio(group: pd.DataFrame) -> str:
    """'; 200x the measured capacity at d = 20' where Theorem 3's N exceeds what was measured: its N counts
    well-separated patterns (fixed points), while the measured capacity needs corrupted queries to return."""
    both = group[(group.capacity > 0) & group.thm3_n.notna()]
    if both.empty:
        return ""
    ratios = both.thm3_n / both.capacity
    top = ratios.idxmax()
    if ratios[top] <= 1.5:
        return ""
    return f";\n{ratios[top]:.3g}x the measured capacity at d = {both.dim[top]}"


def save_capacity_vs_dim(path: str | os.PathLike, capacity: pd.DataFrame, setting: str) -> Path | None:
    """Measured capacity vs d (log y) per (model, beta), bars = min/max over trials; theory in grey: Theorem 3's
    guaranteed N (modern; hollow where its condition fails), 0.138 d and d/(2 ln d) (classical); the least
    squares exp(a d + b) for the families with exponential capacity. None (no file) for a single d."""
    if capacity.dim.nunique() < 2:
        return None
    fig = Figure(figsize=(8.4, 4.8), layout="constrained")
    ax = fig.subplots()
    for (model, beta), group in capacity.groupby(["model", "beta"], dropna=False, sort=False):
        group = group.sort_values("dim")
        colour = model_colour(model)
        low = (group.capacity - group.capacity_trial_min).clip(lower=0)
        high = (group.capacity_trial_max - group.capacity).clip(lower=0)
        shown = group.capacity.where(group.capacity > 0)  # log axis: a zero capacity is left out
        ax.errorbar(
            group.dim, shown, yerr=[low, high], marker="o", capsize=3, color=colour, label=_label(model, beta)
        )
        if group.fit_log_slope.notna().any():
            dims = np.linspace(group.dim.min(), group.dim.max(), 50)
            slope, intercept = group.fit_log_slope.iloc[0], group.fit_log_intercept.iloc[0]
            ax.plot(
                dims,
                np.exp(slope * dims + intercept),
                color=colour,
                linestyle=":",
                linewidth=1,
                label=f"fit exp({slope:.3g} d), R^2 = {group.fit_r2.iloc[0]:.3f}",
            )
        if group.thm3_n.notna().any():
            holds = group.thm3_condition.fillna(False).astype(bool)
            ratio = _guarantee_ratio(group)
            ax.plot(
                group.dim,
                group.thm3_n,
                **THEORY,
                label=f"guarantee, Theorem 3 ({_label(model, beta)}):\nN with a fixed point near each "
                f"pattern (w.p. 1-p),\nnot a prediction of retrieval{ratio}",
            )
            ax.plot(group.dim[holds], group.thm3_n[holds], "s", color=THEORY["color"], markersize=5)
            ax.plot(
                group.dim[~holds], group.thm3_n[~holds], "s", mfc="none", color=THEORY["color"], markersize=5
            )
        if group.theory_amit_0138d.notna().any():
            ax.plot(
                group.dim,
                group.theory_amit_0138d,
                **{**THEORY, "linestyle": "-."},
                label="scale: 0.138 d (Amit;\na few % of bits wrong)",
            )
            ax.plot(
                group.dim,
                group.theory_mceliece_d_2logd,
                **{**THEORY, "linestyle": ":"},
                label="scale: d / (2 ln d) (McEliece;\nerror-free, one pattern)",
            )
    dims = sorted(capacity.dim.unique())
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.set_yscale("log")
    shown = pd.concat(
        [capacity.capacity[capacity.capacity > 0], capacity.get("thm3_n", pd.Series(dtype=float))]
    )
    shown = shown[np.isfinite(shown) & (shown > 0)]
    if len(shown):
        readable_log_axis(ax.yaxis, float(shown.min()), float(shown.max()))
    ax.set_xlabel("d (pattern dimension)")
    ax.set_ylabel(f"capacity N (success >= {capacity.threshold.iloc[0]:g})")
    ax.set_title("Storage capacity vs dimension: measured (colour), theory (grey)", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    caption(fig, setting + "; bars: min-max over trials; hollow squares: Theorem 3's condition fails")
    return save(fig, path)


def save_capacity_frontier(path: str | os.PathLike, capacity: pd.DataFrame, setting: str) -> Path | None:
    """Measured capacity of the modern network vs d (log y) beside the exact large-beta theory
    (``theory_argmax``: argmax retrieval of random +-1 patterns) and Theorem 3's guaranteed N. None (no file)
    without at least two dims where the exact theory applies."""
    rows = capacity[capacity.get("theory_argmax", pd.Series(dtype=float)).notna()].sort_values("dim")
    if "theory_argmax" not in capacity or rows.dim.nunique() < 2:
        return None
    fig = Figure(figsize=(8.4, 4.8), layout="constrained")
    ax = fig.subplots()
    low = (rows.capacity - rows.capacity_trial_min).clip(lower=0)
    high = (rows.capacity_trial_max - rows.capacity).clip(lower=0)
    ax.errorbar(
        rows.dim,
        rows.capacity.where(rows.capacity > 0),
        yerr=[low, high],
        marker="o",
        capsize=3,
        color=MODEL_COLOURS.get("modern", "black"),
        label="measured (bars: min-max over trials)",
    )
    ax.plot(rows.dim, rows.theory_argmax, color="black", linestyle="--", label="exact, large beta (argmax)")
    if rows.thm3_n.notna().any():
        ax.plot(rows.dim, rows.thm3_n, **THEORY, label="Theorem 3's guaranteed N (p = 0.001)")
    for r in rows.itertuples():
        if r.capacity > 0:
            ax.annotate(
                f"{r.capacity / r.theory_argmax:.2f}",
                (r.dim, r.capacity),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
            )
    dims = sorted(rows.dim.unique())
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.set_yscale("log")
    ax.set_xlabel("dimension d")
    ax.set_ylabel("capacity N (success >= threshold)")
    ax.set_title("capacity frontier: measured / exact beside each point", fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.005, setting, fontsize=7)
    out = Path(path)
    fig.savefig(out, dpi=120)
    return out
