"""Figures of one run, written atomically as PNG.

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas directly (no pyplot), so nothing
here touches matplotlib's global backend or state, and it works without a display. Each is saved through
``files.atomic_write`` (temporary file, fsync, rename).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hopfield_cli.report.files import atomic_write


def _save(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save ``fig`` as PNG at ``path`` atomically."""
    FigureCanvasAgg(fig)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))


def save_image_grid(
    path: str | os.PathLike,
    queries: torch.Tensor,
    retrieved: torch.Tensor,
    targets: torch.Tensor,
    side: int,
    max_rows: int = 8,
) -> Path:
    """A grid of gray-scale images: one row per query (at most ``max_rows``), columns query / retrieved /
    target. Each tensor is (B, side * side) with values in [-1, 1] (shown with vmin=-1, vmax=1)."""
    images = {"query": queries, "retrieved": retrieved, "target": targets}
    for name, tensor in images.items():
        if tensor.dim() != 2 or tensor.shape[1] != side * side:
            raise ValueError(
                f"{name} must have shape (B, {side * side}) for side={side}, got {tuple(tensor.shape)}"
            )
        if tensor.shape[0] != queries.shape[0]:
            raise ValueError(f"{name} has {tensor.shape[0]} rows but queries has {queries.shape[0]}")
    rows = min(int(queries.shape[0]), max_rows)
    if rows < 1:
        raise ValueError("nothing to plot: no queries (or max_rows < 1)")

    fig = Figure(figsize=(3 * 1.6, rows * 1.6 + 0.3), layout="constrained")
    axes = fig.subplots(rows, 3, squeeze=False)
    for col, (name, tensor) in enumerate(images.items()):
        pixels = tensor[:rows].detach().to("cpu", torch.float32).reshape(rows, side, side).numpy()
        axes[0, col].set_title(name)
        for row in range(rows):
            ax = axes[row, col]
            ax.imshow(pixels[row], cmap="gray", vmin=-1.0, vmax=1.0, interpolation="nearest")
            ax.set_axis_off()
    return _save(fig, path)


def save_success_curves(path: str | os.PathLike, results, threshold: float) -> Path:
    """Success rate vs N (log x), one panel per model, one line per (beta, d); the threshold dashed.

    ``results`` is the capacity sweep's tidy table (one row per cell and trial); rates are pooled over trials.
    """
    pooled = results.groupby(["model", "beta", "dim", "num_patterns"], dropna=False)[
        ["successes", "num_queries"]
    ].sum()
    pooled = (pooled.successes / pooled.num_queries).rename("rate").reset_index()
    models = list(dict.fromkeys(pooled.model))
    fig = Figure(figsize=(4.2 * len(models), 3.4), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False, sharey=True)[0]
    for ax, model in zip(axes, models, strict=True):
        for (beta, dim), line in pooled[pooled.model == model].groupby(["beta", "dim"], dropna=False):
            line = line.sort_values("num_patterns")
            label = f"d={dim}" if beta != beta else f"beta={beta:g}, d={dim}"  # NaN beta: no temperature
            ax.plot(line.num_patterns, line.rate, marker="o", markersize=3, label=label)
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(model)
        ax.set_xlabel("N stored patterns")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("success rate")
    return _save(fig, path)


def save_capacity_vs_dim(path: str | os.PathLike, capacity) -> Path:
    """Measured capacity vs d (log y) per (model, beta), bars = min/max over trials, with the theory lines:
    0.138 d and d/(2 log d) (classical), Theorem 3's guaranteed N (modern), and the fitted exp(a d + b)."""
    import numpy as np

    fig = Figure(figsize=(6.0, 4.2), layout="constrained")
    ax = fig.subplots()
    for (model, beta), group in capacity.groupby(["model", "beta"], dropna=False):
        group = group.sort_values("dim")
        label = model if beta != beta else f"{model} beta={beta:g}"
        low = (group.capacity - group.capacity_trial_min).clip(lower=0)
        high = (group.capacity_trial_max - group.capacity).clip(lower=0)
        shown = group.capacity.where(group.capacity > 0)  # log axis: a zero capacity is left out
        bars = ax.errorbar(group.dim, shown, yerr=[low, high], marker="o", capsize=3, label=label)
        colour = bars[0].get_color()
        if group.fit_log_slope.notna().any():
            dims = np.linspace(group.dim.min(), group.dim.max(), 50)
            slope, intercept = group.fit_log_slope.iloc[0], group.fit_log_intercept.iloc[0]
            ax.plot(
                dims,
                np.exp(slope * dims + intercept),
                color=colour,
                linestyle=":",
                linewidth=1,
                label=f"fit exp({slope:.3g} d)",
            )
        if model == "modern":
            ax.plot(
                group.dim,
                group.thm3_n,
                color=colour,
                linestyle="--",
                marker="_",
                markersize=14,
                linewidth=1,
                label=f"Theorem 3 ({label})",
            )
        if model == "classical":
            ax.plot(
                group.dim,
                group.theory_amit_0138d,
                color="black",
                linestyle="--",
                marker="_",
                markersize=14,
                linewidth=1,
                label="0.138 d",
            )
            ax.plot(
                group.dim,
                group.theory_mceliece_d_2logd,
                color="gray",
                linestyle="-.",
                marker="_",
                markersize=14,
                linewidth=1,
                label="d / (2 log d)",
            )
    ax.set_yscale("log")
    ax.set_xlabel("d (pattern dimension)")
    ax.set_ylabel("capacity N")
    ax.legend(fontsize=7)
    return _save(fig, path)


# --- metastable-scan figures -------------------------------------------------------------------------------

_KIND_COLOURS = {"global": "#9ecae1", "metastable": "#fdae6b", "single": "#74c476"}
_CLASS_COLOURS = {"I": "#9ecae1", "II": "#c6dbef", "III": "#fdd0a2", "IV": "#fd8d3c"}


def _beta_marks(ax, marks: dict[str, float]) -> None:
    """Vertical dashed lines at theoretical betas (e.g. 1/m_max^2, the well-separated beta)."""
    styles = ("--", ":", "-.", (0, (5, 1)))
    for i, (label, beta) in enumerate(marks.items()):
        ax.axvline(
            beta, color="0.2", linestyle=styles[i % len(styles)], linewidth=1, label=f"{label} = {beta:.3g}"
        )


def save_kind_fractions(path: str | os.PathLike, betas, fractions: dict, marks: dict | None = None) -> Path:
    """Stacked fractions of fixed-point kinds (global / metastable / single) against beta (log x axis)."""
    if len(betas) == 0:
        raise ValueError("nothing to plot: no betas")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    kinds = [k for k in ("global", "metastable", "single") if k in fractions]
    ax.stackplot(
        list(betas),
        *[list(fractions[k]) for k in kinds],
        labels=kinds,
        colors=[_KIND_COLOURS[k] for k in kinds],
        alpha=0.9,
    )
    _beta_marks(ax, marks or {})
    ax.set_xscale("log")
    ax.set_xlim(min(betas), max(betas))
    ax.set_ylim(0, 1)
    ax.set_xlabel("beta")
    ax.set_ylabel("fraction of queries")
    ax.set_title("fixed-point kinds across beta (kind from k90)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def save_k90_vs_beta(
    path: str | os.PathLike, betas, median_k90, n_patterns: int, marks: dict | None = None, q25=None, q75=None
) -> Path:
    """Median k90 (support of the fixed point) against beta, log-log, with its interquartile band."""
    if len(betas) == 0:
        raise ValueError("nothing to plot: no betas")
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    if q25 is not None and q75 is not None:
        ax.fill_between(
            list(betas), list(q25), list(q75), color="#9ecae1", alpha=0.5, label="interquartile range"
        )
    ax.plot(list(betas), list(median_k90), marker="o", markersize=3, color="#08519c", label="median k90")
    ax.axhline(n_patterns / 2, color="#9ecae1", linewidth=1, label=f"N/2 = {n_patterns / 2:g} (global above)")
    ax.axhline(1, color="#74c476", linewidth=1, label="1 (single pattern)")
    _beta_marks(ax, marks or {})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.8, n_patterns * 1.25)
    ax.set_xlabel("beta")
    ax.set_ylabel("k90 (patterns holding 90% of the weight)")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)


def save_head_classes(path: str | os.PathLike, classes, n_keys: int) -> Path:
    """Layer x head map of the paper's attention-head classes I-IV (Fig. A.3 of Ramsauer et al., 2021)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    names = ("I", "II", "III", "IV")
    grid = [[names.index(c) for c in row] for row in classes]
    layers, heads = len(grid), len(grid[0]) if grid else 0
    if layers == 0 or heads == 0:
        raise ValueError("nothing to plot: no heads")
    fig = Figure(figsize=(max(4.0, 0.45 * heads + 2.5), max(2.5, 0.4 * layers + 1.2)), layout="constrained")
    ax = fig.subplots()
    ax.imshow(
        grid,
        cmap=ListedColormap([_CLASS_COLOURS[n] for n in names]),
        vmin=-0.5,
        vmax=3.5,
        aspect="auto",
        interpolation="nearest",
    )
    if layers * heads <= 400:
        for i, row in enumerate(classes):
            for j, c in enumerate(row):
                ax.text(j, i, c, ha="center", va="center", fontsize=7)
    ax.set_xticks(range(heads))
    ax.set_yticks(range(layers))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(f"head classes by median k90 (N = {n_keys} keys)")
    bounds = (
        f"k > {n_keys / 2:g}",
        f"{n_keys / 8:g} < k <= {n_keys / 2:g}",
        f"{n_keys / 32:g} < k <= {n_keys / 8:g}",
        f"k <= {n_keys / 32:g}",
    )
    handles = [Patch(color=_CLASS_COLOURS[n], label=f"{n}: {b}") for n, b in zip(names, bounds, strict=True)]
    ax.legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, path)
