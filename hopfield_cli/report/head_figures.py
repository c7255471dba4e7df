"""Figures of attention heads through the Hopfield lens (Ramsauer et al. 2021, Figs. A.3-A.5).

- ``save_kbar_map``: layer x head heat map of k-bar / N (log colour scale), each cell labelled with its class;
- ``save_class_histogram``: heads of each class per layer (Fig. A.3's per-layer histogram);
- ``save_classes_over_steps``: fraction of heads in each class over training steps, one panel per layer
  (Fig. A.4);
- ``save_norms_over_steps``: each head's mean softmax-Jacobian norm over training steps (Fig. A.5).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hopfield_cli.report.figures import _CLASS_COLOURS, save

CLASSES = ("I", "II", "III", "IV")


def save_kbar_map(path: Path, kbar: np.ndarray, classes: np.ndarray, n_keys: int, title: str) -> Path:
    """Heat map of k-bar / N per (layer, head), log scale from 1/N to 1, with the class in each cell."""
    from matplotlib.colors import LogNorm

    layers, heads = kbar.shape
    fig = Figure(figsize=(max(4.0, 0.5 * heads + 2.5), max(2.5, 0.45 * layers + 1.3)), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(kbar / n_keys, cmap="viridis", norm=LogNorm(vmin=1.0 / n_keys, vmax=1.0), aspect="auto")
    for i in range(layers):
        for j in range(heads):
            dark = kbar[i, j] / n_keys < 0.1  # viridis: dark blue below, light green-yellow above
            ax.text(
                j, i, classes[i, j], ha="center", va="center", fontsize=7, color="white" if dark else "black"
            )
    ax.set_xticks(range(heads))
    ax.set_yticks(range(layers))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(f"{title}: median k90 / N (N = {n_keys}); I > 1/2, II > 1/8, III > 1/32 >= IV")
    fig.colorbar(image, ax=ax, label="k-bar / N")
    return save(fig, path)


def save_class_histogram(path: Path, counts: pd.DataFrame, title: str) -> Path:
    """Stacked bars: heads of classes I-IV in each layer."""
    fig = Figure(figsize=(max(4.0, 0.6 * len(counts) + 2.5), 3.2), layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(counts))
    for name in CLASSES:
        values = counts[name].to_numpy(dtype=float)
        ax.bar(counts.index, values, bottom=bottom, color=_CLASS_COLOURS[name], label=name)
        bottom += values
    ax.set_xticks(list(counts.index))
    ax.set_xlabel("layer")
    ax.set_ylabel("heads")
    ax.set_title(f"{title}: heads per class and layer")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)


def save_classes_over_steps(path: Path, heads: pd.DataFrame, title: str) -> Path:
    """One panel per layer: the fraction of its heads in each class against the training step."""
    layers = sorted(heads["layer"].unique())
    cols = min(4, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig = Figure(figsize=(3.2 * cols + 1.0, 2.6 * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for ax, layer in zip(axes, layers, strict=False):
        part = heads[heads["layer"] == layer]
        frac = part.groupby("step")["head_class"].value_counts(normalize=True).unstack(fill_value=0.0)
        frac = frac.reindex(columns=list(CLASSES), fill_value=0.0)
        ax.stackplot(
            frac.index,
            *(frac[c] for c in CLASSES),
            colors=[_CLASS_COLOURS[c] for c in CLASSES],
            labels=CLASSES,
        )
        ax.set_title(f"layer {layer}", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylim(0, 1)
    for ax in axes[len(layers) :]:
        ax.set_visible(False)
    axes[0].set_ylabel("fraction of heads")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{title}: head classes over training")
    return save(fig, path)


def save_norms_over_steps(path: Path, heads: pd.DataFrame, title: str, n_keys: int) -> Path:
    """Each head's mean ||diag(p) - p p^T||_F against the step, coloured by layer; the global-averaging value
    sqrt(N-1)/N and the largest value 1/2 (k = 2) as reference lines."""
    fig = Figure(figsize=(6.0, 3.6), layout="constrained")
    ax = fig.subplots()
    layers = sorted(heads["layer"].unique())
    colours = [f"C{i % 10}" for i in range(len(layers))]
    for colour, layer in zip(colours, layers, strict=True):
        part = heads[heads["layer"] == layer]
        for k, (_, one) in enumerate(part.groupby("head")):
            one = one.sort_values("step")
            ax.plot(
                one["step"],
                one["jacobian_norm"],
                color=colour,
                lw=1,
                label=f"layer {layer}" if k == 0 else None,
            )
    ax.axhline(math.sqrt(n_keys - 1) / n_keys, color="gray", ls=":", lw=1, label="uniform: sqrt(N-1)/N")
    ax.axhline(0.5, color="gray", ls="--", lw=1, label="k = 2: 1/2")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean ||diag(p) - p p^T||_F")
    ax.set_title(f"{title}: softmax-Jacobian norm per head")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save(fig, path)
