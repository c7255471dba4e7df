"""Figures, written atomically as PNG.

Figures are drawn on matplotlib ``Figure`` objects with the Agg canvas directly (no pyplot), so nothing
here touches matplotlib's global backend or state, and it works without a display.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save_atomic(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Save ``fig`` as PNG under a temporary name in the target folder, then rename it into place."""
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    FigureCanvasAgg(fig)
    try:
        fig.savefig(tmp, format="png", dpi=dpi)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


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
    return _save_atomic(fig, path)
