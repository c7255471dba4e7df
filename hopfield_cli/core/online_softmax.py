"""The online softmax's partial state of one range of patterns, and its exact merge (flash attention's rescaling).

For queries xi and a range of patterns, (m, s, o) = the running maximum of the scores beta x_i^T xi, the sum of
exp(beta x_i^T xi - m) and the weighted sum of exp(beta x_i^T xi - m) x_i. Two ranges merge by rescaling both
to the larger maximum, so the softmax of Eq. 3 over N patterns is the left-to-right merge of its ranges'
partials, wherever each range was computed (a pattern chunk, a SLURM task).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def weight_floor(acc: torch.dtype) -> float:
    """The shifted score below which a weight exp(beta x_i^T xi - m) counts as 0: the log of the accumulation
    dtype's smallest normal number, + 1 (below it exp is subnormal, which x86 computes 10-40x slower)."""
    return math.log(torch.finfo(acc).tiny) + 1.0


@dataclass
class Partial:
    """The online softmax of one range of patterns, per query: running maximum m of the scores beta x_i^T xi,
    sum s of exp(beta x_i^T xi - m) and weighted sum o of exp(beta x_i^T xi - m) x_i. Ranges merge exactly in
    order (``merge``); a SLURM task's result is the list of its ranges' partials (``fold`` replays them)."""

    m: torch.Tensor  # (B,) accumulation dtype
    s: torch.Tensor  # (B,)
    o: torch.Tensor | None  # (B, d) accumulation dtype, or None (no states wanted)


def merge(a: Partial | None, b: Partial) -> Partial:
    """The partial of a's range followed by b's: the online-softmax step (m, s, o) <- rescaled sums."""
    if a is None:
        return b
    m = torch.maximum(a.m, b.m)
    wa, wb = (a.m - m).exp(), (b.m - m).exp()
    o = None if a.o is None or b.o is None else a.o * wa[:, None] + b.o * wb[:, None]
    return Partial(m, a.s * wa + b.s * wb, o)


def fold(partials) -> Partial:
    """``merge`` left to right over partials in pattern order: the same arithmetic wherever they were made."""
    out = None
    for p in partials:
        out = merge(out, p)
    if out is None:
        raise ValueError("no partials to fold")
    return out
