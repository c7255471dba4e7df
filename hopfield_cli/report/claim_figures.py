"""Figures of `hopfield reproduce`'s claims: errors against a tolerance, energy traces, Theorem 5's bound, the
blog's image rows. Drawn on matplotlib ``Figure`` objects (no pyplot) and saved atomically (``figures.save``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from hopfield_cli.report.figures import THEORY, Figure, save


def _floor(values: list[float]) -> list[float]:
    """Zero errors drawn at a visible floor on a log axis."""
    return [max(v, 1e-18) for v in values]


def save_errors(
    path: str | os.PathLike,
    x: list[float],
    series: dict[str, list[float]],
    tolerance: float,
    xlabel: str,
    ylabel: str,
) -> Path:
    """Scatter of errors per case against the tolerance (dashed)."""
    fig = Figure(figsize=(5.5, 3.4), layout="constrained")
    ax = fig.subplots()
    for label, values in series.items():
        ax.scatter(x, _floor(values), s=12, label=label, alpha=0.8)
    ax.axhline(tolerance, label=f"tolerance {tolerance:.1e}", **THEORY)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.legend(fontsize=7)
    return save(fig, path)


def save_energy_traces(path: str | os.PathLike, traces: dict[str, Any]) -> Path:
    """E_t - E_final along the iterates, a panel per family (log scale: a rise would show as a climb)."""
    fig = Figure(figsize=(2.2 * len(traces) + 0.6, 2.8), layout="constrained")
    axes = fig.subplots(1, len(traces), squeeze=False)[0]
    for ax, (family, energies) in zip(axes, traces.items(), strict=True):
        e = np.asarray(energies, dtype=float)
        for row in e:
            ax.plot(np.maximum(row - row[-1], 1e-16), marker=".", markersize=3, linewidth=1)
        ax.set_yscale("log")
        ax.set_title(family, fontsize=9)
        ax.set_xlabel("update t", fontsize=8)
    axes[0].set_ylabel("E(xi_t) - E(xi_final)", fontsize=8)
    return save(fig, path)


def save_bound_scatter(path: str | os.PathLike, bounds: list[float], errors: list[float]) -> Path:
    """One-step error against Theorem 5's bound: every point must lie under the diagonal."""
    fig = Figure(figsize=(4.6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.scatter(_floor(bounds), _floor(errors), s=6, alpha=0.6, label="pattern i")
    if bounds:
        lo, hi = min(_floor(errors) + _floor(bounds)), max(_floor(bounds))
        ax.plot([lo, hi], [lo, hi], label="error = bound (Thm 5)", **THEORY)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("Theorem 5 bound (Eq. 8)")
    ax.set_ylabel("||f(xi) - x_i|| after one update")
    ax.legend(fontsize=7)
    return save(fig, path)


def save_beta_rows(
    path: str | os.PathLike,
    queries: np.ndarray,
    rows: list[tuple[float, np.ndarray, str]],
    stored: np.ndarray,
) -> Path:
    """The blog's figure: the masked queries on top, then a row of retrieved images per beta (labelled with
    beta and the kind of fixed point), then the stored images. ``queries``/``stored``: (C, side, side)."""
    grid = [("masked query", queries), *((f"beta={b:.3g}\n{kind}", images) for b, images, kind in rows)]
    grid.append(("stored", stored))
    cols = queries.shape[0]
    fig = Figure(figsize=(1.0 * cols + 1.3, 1.0 * len(grid)), layout="constrained")
    axes = fig.subplots(len(grid), cols, squeeze=False)
    for r, (label, images) in enumerate(grid):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(images[c], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    return save(fig, path, dpi=100)
