"""Figures of the application tasks of `hopfield train`: MIL AUC per fold and method; AUC against witness rate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hopfield_cli.report.figures import save


def save_auc_per_fold(path: Path, table: pd.DataFrame, title: str, paper: tuple[float, float] | None) -> Path:
    """One column of points per method (one point per outer fold, jittered by repeat), its mean as a bar;
    the paper's Table 1 value (Hopfield pooling) as a band."""
    fig = Figure(figsize=(7.5, 3.8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    methods = list(dict.fromkeys(table["method"]))
    for i, method in enumerate(methods):
        rows = table[table["method"] == method]
        offsets = (rows["repeat"].astype(float) - rows["repeat"].max() / 2) * 0.06
        ax.scatter(i + offsets, rows["auc"], s=12, alpha=0.6, color=f"C{i}")
        ax.hlines(rows["auc"].mean(), i - 0.3, i + 0.3, color="black", lw=2)
    if paper is not None:
        low, high = (paper[0] - paper[1]) / 100, (paper[0] + paper[1]) / 100
        ax.axhspan(low, high, color="tab:red", alpha=0.25, label=f"paper, Hopfield: {paper[0]} +- {paper[1]}")
        ax.legend(fontsize=8, loc="lower left")
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("AUC of the held-out fold")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path, dpi=110)


def save_auc_vs_witness_rate(path: Path, table: pd.DataFrame, title: str) -> Path:
    """AUC (y) against witness rate (x, log) per method (``table``: witness_rate, method, auc)."""
    fig = Figure(figsize=(6.5, 3.8))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for i, (method, rows) in enumerate(table.groupby("method", sort=False)):
        rows = rows.sort_values("witness_rate")
        ax.plot(rows["witness_rate"], rows["auc"], marker="o", color=f"C{i}", label=str(method))
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("witness rate (share of a positive repertoire's sequences with the motif)")
    ax.set_ylabel("AUC (held-out repertoires)")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path, dpi=110)
