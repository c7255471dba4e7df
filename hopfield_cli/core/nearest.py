"""Nearest stored pattern of each state, in chunks so the (B x N) distance matrix is never whole."""

from __future__ import annotations

import torch

from hopfield_cli.core.scaling import plan_scaling
from hopfield_cli.core.streaming import max_norm

# Entries of a (B x N) block computed at once; 2^22 float32 entries = 16 MiB.
DEFAULT_BLOCK_ENTRIES = 1 << 22


def nearest_patterns(
    patterns: torch.Tensor,  # (N, d)
    states: torch.Tensor,  # (B, d)
    block_entries: int = DEFAULT_BLOCK_ENTRIES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the stored pattern nearest to each state (Euclidean) and that distance, shapes (B,), (B,).

    argmin_i ||x_i - xi||^2 = argmax_i (x_i^T xi - ||x_i||^2 / 2); ties go to the lowest index. The score
    is accumulated in float32 at least, so half-precision states rank correctly. Norms whose squares would
    overflow (or underflow) are brought into range by a power of two first, which changes no ranking; their
    distances come back in float64 (they may exceed float32), so both are finite for every finite input.
    """
    work = torch.promote_types(patterns.dtype, torch.float32)
    n, b = patterns.shape[0], states.shape[0]
    if n == 0:
        raise ValueError("no stored patterns")
    # argmin and ties are unchanged in units where no square overflows or underflows (``scaling``)
    units = plan_scaling(max_norm(patterns), max_norm(states), n, 1.0, dtype=work, acc=work)
    scale = units.down
    rows = max(1, block_entries // max(1, patterns.shape[1]))
    held = isinstance(patterns, torch.Tensor)  # else a source drawn block by block: norms per chunk
    neg_half_sq = (
        torch.cat(
            [-0.5 * scale(patterns[i : i + rows].to(work)).pow(2).sum(dim=1) for i in range(0, n, rows)]
        )
        if held
        else None
    )  # (N,)
    best_score = torch.full((b,), -torch.inf, dtype=work, device=states.device)
    best_index = torch.zeros(b, dtype=torch.long, device=states.device)
    chunk = max(1, min(n, block_entries // max(1, b), getattr(patterns, "chunk_rows", n)))
    states_w = scale(states.to(work))
    buffer = torch.empty(b * chunk, dtype=work, device=states.device)
    for start in range(0, n, chunk):
        block = scale(patterns[start : start + chunk].to(work))
        scores = buffer[: b * block.shape[0]].view(b, block.shape[0])
        # x_i^T xi - ||x_i||^2 / 2 in one product with the norms as its bias: one pass over the block fewer
        bias = neg_half_sq[start : start + chunk] if held else -0.5 * block.pow(2).sum(dim=1)
        torch.addmm(bias, states_w, block.T, out=scores)  # (B, chunk)
        value, index = scores.max(dim=1)
        better = value > best_score
        best_score = torch.where(better, value, best_score)
        best_index = torch.where(better, index + start, best_index)
    nearest = scale(patterns[best_index].to(work))
    distance = torch.linalg.vector_norm(states_w - nearest, dim=1)
    return best_index, (units.up(distance.double()) if units.shift else distance)
