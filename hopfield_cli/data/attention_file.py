"""Attention files: the attention probabilities of a transformer, read and checked for the head analysis.

Transformer attention is the modern Hopfield update (Eq. 3 of Ramsauer et al., 2021) with beta = 1/sqrt(d_k):
each row is the softmax p = softmax(beta K^T xi) of one query over N keys, so every row must be a
probability vector.

Input: probabilities of shape (layers, heads, queries, keys) or (heads, queries, keys), e.g. a Hugging Face
model's ``output_attentions=True`` for one sequence, from .safetensors (one tensor, or one named ``attentions``
or ``attention``), .npy (read with allow_pickle=False) or .pt/.pth (torch.load(weights_only=True): a tensor, a
dict holding one tensor or one under those names, or a list/tuple of per-layer (heads, queries, keys) tensors,
as ``output_attentions`` returns them; a leading batch axis of size 1 per layer is dropped). Rows that are
negative, hold NaN/inf or do not sum to 1 within ``row_sum_tolerance`` of the stored dtype are refused,
naming the first such (layer, head, query). Big-endian .npy files are read in native byte order
(``readers``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hopfield_cli.data.readers import read_array
from hopfield_cli.errors import UsageError

NAMES = ("attentions", "attention")
SUFFIXES = (".safetensors", ".npy", ".pt", ".pth")
ROW_SUM_TOL = 1e-3  # float32/float64 exports; narrower dtypes get the rounding of their entries on top


def row_sum_tolerance(dtype: torch.dtype) -> float:
    """How far from 1 a row of probabilities stored in ``dtype`` may sum: ROW_SUM_TOL, or twice the unit
    roundoff of a narrower dtype (each entry rounded with relative error <= u, and they sum to 1, so the
    stored row sums to 1 within u; a bf16 export, u = 2^-8, is off by up to 0.0039)."""
    if not dtype.is_floating_point:
        return ROW_SUM_TOL
    return max(ROW_SUM_TOL, torch.finfo(dtype).eps)  # eps = 2 u


BLOCK_ELEMENTS = 1 << 22  # probabilities checked (or measured: a sort with int64 indices) at a time


def rows_per_block(n_keys: int) -> int:
    """Rows of ``n_keys`` probabilities per block: at most ``BLOCK_ELEMENTS`` entries (~16 MiB of float32)."""
    return max(1, BLOCK_ELEMENTS // max(1, n_keys))


def load_attention(path: str | Path, field: str = "attention") -> torch.Tensor:
    """Read attention probabilities as a float tensor (L, H, Q, K); a 3-D input becomes L = 1."""
    data = read_array(path, field, names=NAMES, suffixes=SUFFIXES, sequences=True)
    return _as_probabilities(data, Path(path).expanduser().name, field)


def _as_probabilities(
    data: np.ndarray | torch.Tensor | list[torch.Tensor], name: str, field: str
) -> torch.Tensor:
    if isinstance(data, list):  # output_attentions: one (1, H, Q, K) or (H, Q, K) tensor per layer
        layers = [t[0] if t.dim() == 4 and t.shape[0] == 1 else t for t in data]
        if any(t.shape != layers[0].shape for t in layers):
            raise UsageError(field, f"{name}: the per-layer tensors differ in shape")
        data = torch.stack(layers)
    if isinstance(data, np.ndarray):
        if data.dtype.kind not in "biuf":
            raise UsageError(field, f"{name} has dtype {data.dtype}; expected real probabilities")
        data = torch.from_numpy(np.ascontiguousarray(data))
    if data.is_complex() or data.dtype == torch.bool:
        raise UsageError(field, f"{name} has dtype {data.dtype}; expected real probabilities")
    if data.dim() == 3:
        data = data[None]
    if data.dim() != 4:
        raise UsageError(
            field,
            f"{name} has shape {tuple(data.shape)}; expected (layers, heads, queries, keys) or "
            "(heads, queries, keys), e.g. one sequence of output_attentions=True",
        )
    if 0 in data.shape:
        raise UsageError(field, f"{name} is empty: shape {tuple(data.shape)}")
    tolerance = row_sum_tolerance(data.dtype)
    data = data.detach().to(torch.float32 if data.dtype != torch.float64 else torch.float64)
    check_rows(data, name, field, tolerance)
    return data


def _where(index: int, shape: tuple[int, ...]) -> str:
    layer, head, query = np.unravel_index(index, shape[:3])
    return f"layer {layer}, head {head}, query {query} (0-based)"


def check_rows(
    probs: torch.Tensor, name: str, field: str = "attention", tolerance: float = ROW_SUM_TOL
) -> None:
    """Refuse rows with NaN/inf, negative entries, or a sum off 1 by more than ``tolerance``; name the first."""
    rows = probs.reshape(-1, probs.shape[-1])
    step = rows_per_block(rows.shape[1])
    for start in range(0, rows.shape[0], step):
        block = rows[start : start + step]
        bad = (~torch.isfinite(block)).any(dim=1)
        if bad.any():
            where = _where(start + int(bad.nonzero()[0]), tuple(probs.shape))
            raise UsageError(field, f"{name} has NaN or inf at {where}")
        negative = (block < 0).any(dim=1)
        if negative.any():
            i = int(negative.nonzero()[0])
            raise UsageError(
                field,
                f"{name} has a negative probability ({float(block[i].min()):.3g}) at "
                f"{_where(start + i, tuple(probs.shape))}",
            )
        sums = block.sum(dim=1, dtype=torch.float64)
        off = (sums - 1.0).abs() > tolerance
        if off.any():
            i = int(off.nonzero()[0])
            raise UsageError(
                field,
                f"{name}: the row at {_where(start + i, tuple(probs.shape))} sums to "
                f"{float(sums[i]):.6g}; attention probabilities must sum to 1 (tolerance "
                f"{tolerance:g} for this dtype). Pass softmax outputs, not scores",
            )
