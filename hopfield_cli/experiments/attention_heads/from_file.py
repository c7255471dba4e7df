"""`hopfield attention-heads attention=<file>`: the paper's attention-head classes (Section 4, Fig. A.3).

Transformer attention is the modern Hopfield update (Eq. 3) with beta = 1/sqrt(d_k), so each row of attention
probabilities is the softmax p of one query over N keys. For every query, k = the smallest number of largest
probabilities whose sum reaches 0.90 (``core.fixed_points.k90``); per head, k-bar = median of k over queries, and
the head's class is I: k-bar > N/2 (global averaging), II: N/8 < k-bar <= N/2, III: N/32 < k-bar <= N/8,
IV: k-bar <= N/32 (small metastable state or single pattern) (``core.fixed_points.head_class``).

Two sources: ``attention=FILE``, probabilities someone else exported, read and checked by
``data.attention_file.load_attention``; or ``pretrained=minilm|PATH``, a pre-trained BERT run here on pinned text
(``experiments.model_heads``), which also reports each head's softmax-Jacobian norm.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hopfield_cli.config.commands import AttentionHeadsConfig
from hopfield_cli.core.fixed_points import HEAD_CLASSES, head_class, k90
from hopfield_cli.data.attention_file import load_attention, rows_per_block
from hopfield_cli.experiments.footprint import ROW_BYTES, Term
from hopfield_cli.report.console import show
from hopfield_cli.report.files import write_json, write_run_info, write_table

HEAD_STEM = "attention_heads"
QUERY_STEM = "attention_queries"


def footprint(cfg: AttentionHeadsConfig) -> list[Term]:
    """The probabilities as read (their shape from the file's header) and as float32, the k90 sort of one
    block of rows, and one table row per query."""
    from hopfield_cli.data.attention_file import BLOCK_ELEMENTS, NAMES
    from hopfield_cli.data.readers import header_info

    shape, stored = header_info(cfg.attention, "attention", NAMES)
    entries, queries = math.prod(shape), math.prod(shape[:-1]) if len(shape) > 1 else 1
    return [
        Term("attention", entries * (stored + 4), f"{entries:,} probabilities {tuple(shape)}"),
        Term("attention", min(entries, BLOCK_ELEMENTS) * 32, "k90 of one block of rows"),
        Term("attention", queries * ROW_BYTES, f"{queries:,} query rows"),
    ]


def query_k90(probs: torch.Tensor) -> torch.Tensor:
    """k per query, (L, H, Q) int64: the smallest number of largest probabilities reaching 90% of the row."""
    rows = probs.reshape(-1, probs.shape[-1])
    step = rows_per_block(rows.shape[1])
    out = torch.cat([k90(rows[s : s + step]) for s in range(0, rows.shape[0], step)])
    return out.reshape(probs.shape[:3])


def head_table(k: torch.Tensor, n_keys: int) -> pd.DataFrame:
    """One row per (layer, head): median k over queries (k-bar), its quartiles, k-bar / N and the class."""
    layers, heads, n_queries = k.shape
    kk = k.double().numpy()
    rows = []
    for layer in range(layers):
        for head in range(heads):
            values = kk[layer, head]
            k_median = float(np.median(values))
            rows.append(
                {
                    "layer": layer,
                    "head": head,
                    "num_queries": n_queries,
                    "num_keys": n_keys,
                    "k_median": k_median,
                    "k_q25": float(np.quantile(values, 0.25)),
                    "k_q75": float(np.quantile(values, 0.75)),
                    "k_mean": float(values.mean()),
                    "k_median_fraction": k_median / n_keys,
                    "head_class": head_class(k_median, n_keys),
                }
            )
    return pd.DataFrame(rows)


def query_table(k: torch.Tensor, max_weight: torch.Tensor) -> pd.DataFrame:
    """One row per (layer, head, query): its k90 and its largest probability."""
    layers, heads, n_queries = k.shape
    grid = np.stack(np.meshgrid(np.arange(layers), np.arange(heads), np.arange(n_queries), indexing="ij"), -1)
    queries = pd.DataFrame(grid.reshape(-1, 3), columns=["layer", "head", "query"])
    queries["k90"] = k.reshape(-1).numpy()
    queries["max_weight"] = max_weight.reshape(-1).double().numpy()
    return queries


def class_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Heads of each class per layer: rows are layers, columns the classes I-IV."""
    counts = table.groupby("layer")["head_class"].value_counts().unstack(fill_value=0)
    return counts.reindex(columns=list(HEAD_CLASSES), fill_value=0)


def thresholds(n_keys: int) -> dict[str, str]:
    """The class bounds on k-bar for N keys (Section 4: N/2, N/8, N/32)."""
    return {
        "I": f"k > {n_keys / 2:g}",
        "II": f"{n_keys / 8:g} < k <= {n_keys / 2:g}",
        "III": f"{n_keys / 32:g} < k <= {n_keys / 8:g}",
        "IV": f"k <= {n_keys / 32:g}",
    }


def print_summary(
    table: pd.DataFrame, counts: pd.DataFrame, heads: int, n_keys: int, norms: bool = False
) -> None:
    from rich.table import Table

    layers = len(counts)
    summary = Table(
        title=f"attention heads by class ({layers} layers x {heads} heads, N = {n_keys} keys)",
        title_justify="left",
    )
    extra = ("mean ||diag(p) - pp^T||_F",) if norms else ()
    for name in ("layer", *HEAD_CLASSES, "median k-bar", *extra):
        summary.add_column(name, justify="right")
    for layer in range(layers):
        rows = table.loc[table["layer"] == layer]
        kbar = float(rows["k_median"].median())
        cells = [str(layer), *(str(int(counts.loc[layer, c])) for c in HEAD_CLASSES), f"{kbar:g}"]
        if norms:
            cells.append(f"{float(rows['jacobian_norm'].mean()):.4f}")
        summary.add_row(*cells)
    show(summary)


def run(cfg: AttentionHeadsConfig, run_dir: Path) -> pd.DataFrame:
    """Classify every head of the attention file; write the tables, a layer x head map and a Rich summary.
    (``pretrained=``, a model run here, is ``model_heads.run``, which uses this module's tables.)"""
    started = time.perf_counter()
    probs = load_attention(cfg.attention)
    layers, heads, n_queries, n_keys = probs.shape
    k = query_k90(probs)
    table = head_table(k, n_keys)
    write_table(table, run_dir, HEAD_STEM)
    write_table(query_table(k, probs.amax(dim=-1)), run_dir, QUERY_STEM)
    counts = class_counts(table)
    write_json(
        run_dir / "summary.json",
        {
            "attention": cfg.attention,
            "shape": [layers, heads, n_queries, n_keys],
            "thresholds": thresholds(n_keys),
            "classes_per_layer": {
                int(i): {c: int(counts.loc[i, c]) for c in HEAD_CLASSES} for i in counts.index
            },
        },
    )
    if cfg.plots:
        from hopfield_cli.report import figures

        classes = table["head_class"].to_numpy().reshape(layers, heads)
        figures.save_head_classes(run_dir / "attention_classes.png", classes, n_keys)
    seconds = time.perf_counter() - started
    write_run_info(run_dir, "attention-heads", cfg.seed, "cpu", seconds=seconds, attention=cfg.attention)
    print_summary(table, counts, heads, n_keys)
    return table
