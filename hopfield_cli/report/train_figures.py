"""The learning curve of `hopfield train`: loss and accuracy (and AUC) per epoch, train and eval splits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hopfield_cli.report.figures import save

STYLE = {"train": "--", "eval": "-"}


def save_learning_curve(path: Path, table: pd.DataFrame, title: str) -> Path:
    """Two panels over epochs: the loss (log scale), then accuracy and AUC, each split its own line style."""
    fig = Figure(figsize=(9, 3.6))
    FigureCanvasAgg(fig)
    loss_ax, score_ax = fig.subplots(1, 2)
    for split, rows in table.groupby("split", sort=False):
        rows = rows.sort_values("epoch")
        style = STYLE.get(str(split), ":")
        loss_ax.plot(rows["epoch"], rows["loss"], style, marker="o", ms=3, label=f"{split}")
        score_ax.plot(
            rows["epoch"], rows["accuracy"], style, marker="o", ms=3, color="C0", label=f"{split} accuracy"
        )
        score_ax.plot(rows["epoch"], rows["auc"], style, marker="s", ms=3, color="C2", label=f"{split} AUC")
    loss_ax.set_yscale("log")
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("binary cross-entropy")
    loss_ax.legend(fontsize=8)
    score_ax.axhline(0.5, color="gray", lw=0.8, ls=":", label="chance")
    score_ax.set_ylim(0.0, 1.02)
    score_ax.set_xlabel("epoch")
    score_ax.set_ylabel("accuracy / AUC")
    score_ax.legend(fontsize=8, loc="lower right")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save(fig, path, dpi=110)
