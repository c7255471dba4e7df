"""`hopfield metastable-scan attention=<file>`: the paper's attention-head classes (Section 4, Fig. A.3).

Transformer attention is the modern Hopfield update with beta = 1/sqrt(d_k), so each row of attention
probabilities is the softmax p of one query over N keys. For every query, k = the smallest number of largest
probabilities whose sum reaches 0.90 (``core.fixed_points.k90``); per head, k-bar = median of k over queries, and
the head's class is I: k-bar > N/2 (global averaging), II: N/8 < k-bar <= N/2, III: N/32 < k-bar <= N/8,
IV: k-bar <= N/32 (small metastable state or single pattern) (``core.fixed_points.head_class``).

Input: probabilities of shape (layers, heads, queries, keys) or (heads, queries, keys), e.g. a Hugging Face
model's ``output_attentions=True`` for one sequence, from .safetensors (one tensor, or one named ``attentions`` or
``attention``), .npy (read with allow_pickle=False) or .pt/.pth (torch.load(weights_only=True): a tensor, a dict
holding one tensor or one under those names, or a list/tuple of per-layer (heads, queries, keys) tensors, as
``output_attentions`` returns them; a leading batch axis of size 1 per layer is dropped). Rows that are negative,
hold NaN/inf or do not sum to 1 within ``ROW_SUM_TOL`` are refused, naming the first such (layer, head, query).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError, safe_open

from hopfield_cli.core.fixed_points import HEAD_CLASSES, head_class, k90
from hopfield_cli.data.loaders import require_file, require_suffix, safe_torch_load
from hopfield_cli.errors import UsageError
from hopfield_cli.output import console, write_json, write_run_info, write_table

FIELD = "attention"
NAMES = ("attentions", "attention")
SUFFIXES = (".safetensors", ".npy", ".pt", ".pth")
ROW_SUM_TOL = 1e-3
HEAD_STEM = "attention_heads"
QUERY_STEM = "attention_queries"
_ROWS_PER_BLOCK = 1 << 16  # rows of probabilities checked / measured at a time


def load_attention(path: str | Path) -> torch.Tensor:
    """Read attention probabilities as a float tensor (L, H, Q, K); a 3-D input becomes L = 1."""
    p = require_file(path, FIELD)
    suffix = require_suffix(p, SUFFIXES, FIELD)
    if suffix == ".safetensors":
        data = _read_safetensors(p)
    elif suffix == ".npy":
        data = _read_npy(p)
    else:
        data = _read_torch(p)
    return _as_probabilities(data, p.name)


def _read_safetensors(p: Path) -> torch.Tensor:
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            keys = list(fh.keys())
            return fh.get_tensor(_pick(keys, p.name))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UsageError(FIELD, f"{p.name} is not a valid safetensors file or is truncated ({exc})") from None


def _pick(keys: list[str], name: str) -> str:
    if not keys:
        raise UsageError(FIELD, f"{name} holds no tensors")
    for wanted in NAMES:
        if wanted in keys:
            return wanted
    if len(keys) == 1:
        return keys[0]
    shown = ", ".join(sorted(keys)[:8]) + (", ..." if len(keys) > 8 else "")
    raise UsageError(FIELD, f"{name} holds {len(keys)} tensors ({shown}); name the one to use 'attentions'")


def _read_npy(p: Path) -> np.ndarray:
    try:
        data = np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise UsageError(FIELD, f"{p.name} holds Python objects; expected a numeric array") from None
        raise UsageError(FIELD, f"{p.name} is not a valid .npy file or is truncated ({exc})") from None
    except (OSError, EOFError) as exc:
        raise UsageError(FIELD, f"{p.name} is not a valid .npy file or is truncated ({exc})") from None
    if not isinstance(data, np.ndarray):
        if hasattr(data, "close"):
            data.close()
        raise UsageError(FIELD, f"{p.name} is an .npz archive, not a single .npy array")
    return data


def _read_torch(p: Path) -> Any:
    obj = safe_torch_load(p, FIELD)
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        for wanted in NAMES:
            if wanted in obj:
                return obj[wanted]
        if len(tensors) == 1:
            return next(iter(tensors.values()))
        raise UsageError(
            FIELD,
            f"{p.name} holds a dict with {len(tensors)} tensors; expected one, or one named 'attentions'",
        )
    return obj


def _as_probabilities(data: Any, name: str) -> torch.Tensor:
    if isinstance(data, (list, tuple)):  # output_attentions: one (1, H, Q, K) or (H, Q, K) tensor per layer
        if not data or not all(isinstance(t, torch.Tensor) for t in data):
            raise UsageError(FIELD, f"{name} holds a {type(data).__name__} that is not a list of tensors")
        layers = [t[0] if t.dim() == 4 and t.shape[0] == 1 else t for t in data]
        if any(t.shape != layers[0].shape for t in layers):
            raise UsageError(FIELD, f"{name}: the per-layer tensors differ in shape")
        data = torch.stack(layers)
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biuf":
            raise UsageError(FIELD, f"{name} has dtype {data.dtype}; expected real probabilities")
        data = torch.from_numpy(np.ascontiguousarray(data))
    if not isinstance(data, torch.Tensor):
        raise UsageError(
            FIELD, f"{name} holds a {type(data).__name__}; expected a tensor of attention probabilities"
        )
    if data.is_complex() or data.dtype == torch.bool:
        raise UsageError(FIELD, f"{name} has dtype {data.dtype}; expected real probabilities")
    if data.dim() == 3:
        data = data[None]
    if data.dim() != 4:
        raise UsageError(
            FIELD,
            f"{name} has shape {tuple(data.shape)}; expected (layers, heads, queries, keys) or "
            "(heads, queries, keys), e.g. one sequence of output_attentions=True",
        )
    if 0 in data.shape:
        raise UsageError(FIELD, f"{name} is empty: shape {tuple(data.shape)}")
    data = data.detach().to(torch.float32 if data.dtype != torch.float64 else torch.float64)
    check_rows(data, name)
    return data


def _where(index: int, shape: tuple[int, ...]) -> str:
    layer, head, query = np.unravel_index(index, shape[:3])
    return f"layer {layer}, head {head}, query {query} (0-based)"


def check_rows(probs: torch.Tensor, name: str) -> None:
    """Refuse rows with NaN/inf, negative entries, or a sum off 1 by more than ROW_SUM_TOL; name the first."""
    rows = probs.reshape(-1, probs.shape[-1])
    for start in range(0, rows.shape[0], _ROWS_PER_BLOCK):
        block = rows[start : start + _ROWS_PER_BLOCK]
        bad = (~torch.isfinite(block)).any(dim=1)
        if bad.any():
            where = _where(start + int(bad.nonzero()[0]), tuple(probs.shape))
            raise UsageError(FIELD, f"{name} has NaN or inf at {where}")
        negative = (block < 0).any(dim=1)
        if negative.any():
            i = int(negative.nonzero()[0])
            raise UsageError(
                FIELD,
                f"{name} has a negative probability ({float(block[i].min()):.3g}) at "
                f"{_where(start + i, tuple(probs.shape))}",
            )
        sums = block.sum(dim=1, dtype=torch.float64)
        off = (sums - 1.0).abs() > ROW_SUM_TOL
        if off.any():
            i = int(off.nonzero()[0])
            raise UsageError(
                FIELD,
                f"{name}: the row at {_where(start + i, tuple(probs.shape))} sums to "
                f"{float(sums[i]):.6g}; attention probabilities must sum to 1 (tolerance "
                f"{ROW_SUM_TOL:g}). Pass softmax outputs, not scores",
            )


def query_k90(probs: torch.Tensor) -> torch.Tensor:
    """k per query, (L, H, Q) int64: the smallest number of largest probabilities reaching 90% of the row."""
    rows = probs.reshape(-1, probs.shape[-1])
    out = torch.cat([k90(rows[s : s + _ROWS_PER_BLOCK]) for s in range(0, rows.shape[0], _ROWS_PER_BLOCK)])
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


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Classify every head of the attention file; write the tables, a layer x head map and a Rich summary."""
    from rich.table import Table

    from hopfield_cli import plots

    started = time.perf_counter()
    probs = load_attention(cfg.attention)
    layers, heads, n_queries, n_keys = probs.shape
    k = query_k90(probs)
    max_p = probs.amax(dim=-1)
    table = head_table(k, n_keys)
    write_table(table, run_dir, HEAD_STEM)
    grid = np.stack(np.meshgrid(np.arange(layers), np.arange(heads), np.arange(n_queries), indexing="ij"), -1)
    queries = pd.DataFrame(grid.reshape(-1, 3), columns=["layer", "head", "query"])
    queries["k90"] = k.reshape(-1).numpy()
    queries["max_weight"] = max_p.reshape(-1).double().numpy()
    write_table(queries, run_dir, QUERY_STEM)
    counts = table.groupby("layer")["head_class"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(columns=list(HEAD_CLASSES), fill_value=0)
    write_json(
        run_dir / "summary.json",
        {
            "attention": str(cfg.attention),
            "shape": [layers, heads, n_queries, n_keys],
            "thresholds": {
                "I": f"k > {n_keys / 2:g}",
                "II": f"{n_keys / 8:g} < k <= {n_keys / 2:g}",
                "III": f"{n_keys / 32:g} < k <= {n_keys / 8:g}",
                "IV": f"k <= {n_keys / 32:g}",
            },
            "classes_per_layer": {
                int(i): {c: int(counts.loc[i, c]) for c in HEAD_CLASSES} for i in counts.index
            },
        },
    )
    if cfg.plots:
        classes = table["head_class"].to_numpy().reshape(layers, heads)
        plots.save_head_classes(run_dir / "attention_classes.png", classes, n_keys)
    seconds = time.perf_counter() - started
    write_run_info(
        run_dir, "metastable-scan", int(cfg.seed), "cpu", seconds=seconds, attention=str(cfg.attention)
    )
    summary = Table(
        title=f"attention heads by class ({layers} layers x {heads} heads, N = {n_keys} keys)",
        title_justify="left",
    )
    for name in ("layer", *HEAD_CLASSES, "median k-bar"):
        summary.add_column(name, justify="right")
    for layer in range(layers):
        kbar = float(table.loc[table["layer"] == layer, "k_median"].median())
        summary.add_row(str(layer), *(str(int(counts.loc[layer, c])) for c in HEAD_CLASSES), f"{kbar:g}")
    console.print(summary)
    return table
