"""Figures of one run, written atomically as PNG (or PDF, SVG: ``figures.format``).

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas directly (no pyplot), so nothing
here touches matplotlib's global backend or state, and it works without a display. Each is saved through
``files.atomic_write`` (temporary file, fsync, rename).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import torch

logging.getLogger("matplotlib").setLevel(logging.WARNING)  # no font_manager INFO lines on a first run

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hopfield_cli.report.figure_format import current  # noqa: E402
from hopfield_cli.report.files import atomic_write  # noqa: E402

# How theory is drawn in every figure: grey, dashed, and named in the legend; measurements get the colours.
THEORY = {"color": "0.45", "linestyle": "--", "linewidth": 1.2}


def readable_log_axis(axis, low: float, high: float) -> None:
    """Tick labels a reader can use on a log ``axis`` spanning [low, high]: plain numbers (0.01, 20, 500) up to
    six decades (10^k beyond), at 1-2-5 steps when the span is under three decades, every decade otherwise
    (minor ticks unlabelled)."""
    from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, NullFormatter

    decades = math.log10(high / low) if high > 0 and low > 0 else 99.0
    subs = (1.0, 2.0, 5.0) if decades < 3 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    plain = FuncFormatter(lambda value, _pos: f"{value:g}")
    axis.set_major_formatter(plain if decades < 6 else LogFormatterSciNotation())  # 10^k beyond 6 decades
    axis.set_minor_formatter(NullFormatter())


def save(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save ``fig`` atomically at ``path``, in the run's format (its suffix replaced: ``summary.pdf``) and dpi."""
    fmt, chosen = current()
    target = Path(path).with_suffix(f".{fmt}")
    FigureCanvasAgg(fig)
    return atomic_write(target, lambda tmp: fig.savefig(tmp, format=fmt, dpi=chosen or dpi))


def caption(fig: Figure, text: str) -> None:
    """The setting under the figure (patterns, corruption, trials, criterion), small and left-aligned; the
    constrained layout keeps the axes above it."""
    if text:
        room = 0.3 / fig.get_figheight()
        fig.get_layout_engine().set(rect=(0, room, 1, 1 - room))
        fig.text(0.01, 0.01, text, fontsize=7, color="0.3", ha="left", va="bottom", wrap=True)


def save_image_grid(
    path: str | os.PathLike,
    queries: torch.Tensor,
    retrieved: torch.Tensor,
    targets: torch.Tensor,
    side: int,
    max_rows: int = 8,
    *,
    row_labels: list[str] | None = None,
    ok: list[bool] | None = None,
    title: str = "",
    setting: str = "",
) -> Path:
    """A grid of gray-scale images: one row per query (at most ``max_rows``), columns query / retrieved /
    target. Each tensor is (B, side * side); values in [-1, 1] are shown with vmin=-1, vmax=1 (a wider range,
    e.g. centred images, symmetrically around 0). ``row_labels`` name the rows (e.g. ``beta = 0.01``); ``ok``
    marks each row retrieved (green) or not (red)."""
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
    pixels = {
        name: tensor[:rows].detach().to("cpu", torch.float32).reshape(rows, side, side).numpy()
        for name, tensor in images.items()
    }
    scale = max(1.0, max(float(abs(p).max()) for p in pixels.values()))
    label_width = 1.6 if row_labels else 0.0
    fig = Figure(
        figsize=(3 * 1.6 + label_width, rows * 1.6 + 0.3 + (0.4 if title else 0) + (0.3 if setting else 0)),
        layout="constrained",
    )
    axes = fig.subplots(rows, 3, squeeze=False)
    for col, (name, grid) in enumerate(pixels.items()):
        axes[0, col].set_title(name)
        for row in range(rows):
            ax = axes[row, col]
            ax.imshow(grid[row], cmap="gray", vmin=-scale, vmax=scale, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if ok is not None:
                colour = "#1a9641" if ok[row] else "#d7191c"
                for spine in ax.spines.values():
                    spine.set(color=colour, linewidth=2.5 if col == 1 else 0.5)
            else:
                ax.set_axis_off()
    for row in range(rows):
        label = row_labels[row] if row_labels else ""
        if ok is not None:
            label += ("\n" if label else "") + ("retrieved" if ok[row] else "not retrieved")
        if label:
            axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize="medium")
    caption(fig, setting)
    return save(fig, path)


# --- metastable-scan figures -------------------------------------------------------------------------------

_KIND_COLOURS = {"global": "#9ecae1", "metastable": "#fdae6b", "single": "#74c476", "unconverged": "0.8"}
_CLASS_COLOURS = {"I": "#9ecae1", "II": "#c6dbef", "III": "#fdd0a2", "IV": "#fd8d3c"}


def _beta_marks(ax, marks: dict[str, float]) -> None:
    """Theory as grey vertical lines at its betas, named in the legend by what each is: the label says whether
    it is a bound, a sufficient condition or a scale (``metastable_table.save_figures``), not a predicted value.
    """
    styles = ("--", ":", "-.", (0, (5, 1)))
    for i, (label, beta) in enumerate(marks.items()):
        style = {**THEORY, "linestyle": styles[i % len(styles)]}
        ax.axvline(beta, **style, label=f"{label}:\n  beta = {beta:.3g}")


def save_kind_fractions(
    path: str | os.PathLike, betas, fractions: dict, marks: dict | None = None, setting: str = ""
) -> Path:
    """Stacked fractions of fixed-point kinds (global / metastable / single) against beta (log x axis), and of
    the queries that did not converge (light grey, hatched: no fixed point, so no kind)."""
    if len(betas) == 0:
        raise ValueError("nothing to plot: no betas")
    fig = Figure(figsize=(9, 4.4), layout="constrained")
    ax = fig.subplots()
    kinds = [k for k in ("global", "metastable", "single", "unconverged") if k in fractions]
    if "unconverged" in kinds and not any(fractions["unconverged"]):
        kinds.remove("unconverged")
    labels = [
        f"{k} (no fixed point within\n  update_steps_max: no kind)" if k == "unconverged" else k
        for k in kinds
    ]
    areas = ax.stackplot(
        list(betas),
        *[list(fractions[k]) for k in kinds],
        labels=labels,
        colors=[_KIND_COLOURS[k] for k in kinds],
        alpha=0.9,
    )
    for kind, area in zip(kinds, areas, strict=True):
        if kind == "unconverged":
            area.set_hatch("//")
    _beta_marks(ax, marks or {})
    ax.set_xscale("log")
    ax.set_xlim(min(betas), max(betas))
    readable_log_axis(ax.xaxis, min(betas), max(betas))
    ax.set_ylim(0, 1)
    ax.set_xlabel("beta")
    ax.set_ylabel("fraction of queries (kind by k90)")
    fig.suptitle("Global average -> metastable states -> single patterns as beta grows", fontsize="medium")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    caption(fig, setting)
    return save(fig, path)


def save_k90_vs_beta(
    path: str | os.PathLike,
    betas,
    median_k90,
    n_patterns: int,
    marks: dict | None = None,
    q25=None,
    q75=None,
    setting: str = "",
    cluster_size: float | None = None,
) -> Path:
    """Median k90 (support of the fixed point) against beta, log-log, with its interquartile band; the
    cluster size (N / clusters, the support Lemma A12's metastable state of one cluster has) as a line."""
    if len(betas) == 0:
        raise ValueError("nothing to plot: no betas")
    fig = Figure(figsize=(9, 4.4), layout="constrained")
    ax = fig.subplots()
    if q25 is not None and q75 is not None:
        ax.fill_between(
            list(betas), list(q25), list(q75), color="#9ecae1", alpha=0.5, label="interquartile range"
        )
    ax.plot(list(betas), list(median_k90), marker="o", markersize=3, color="#08519c", label="median k90")
    ax.axhline(
        n_patterns / 2, color="#9ecae1", linewidth=1, label=f"k = N/2 = {n_patterns / 2:g} (global above)"
    )
    ax.axhline(1, color="#74c476", linewidth=1, label="k = 1 (single pattern)")
    if cluster_size:
        ax.axhline(
            cluster_size,
            color="#fd8d3c",
            linewidth=1.2,
            label=f"k = cluster size N/clusters = {cluster_size:g}\n  (one cluster's metastable state)",
        )
    _beta_marks(ax, marks or {})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(0.8, n_patterns * 1.25)
    readable_log_axis(ax.xaxis, min(betas), max(betas))
    readable_log_axis(ax.yaxis, 0.8, n_patterns * 1.25)
    ax.set_xlabel("beta")
    ax.set_ylabel("k90 (patterns holding 90% of the weight)")
    fig.suptitle("The fixed point's support k90 shrinks from all N patterns to one", fontsize="medium")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    caption(fig, setting)
    return save(fig, path)


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
    return save(fig, path)
