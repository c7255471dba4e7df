"""The sparse-tail pass: one softmax pass (Eq. 3) that multiplies only the weights that are not zero.

At a large beta the weights p = softmax(beta X^T xi) of a query vanish for nearly every pattern: a weight
exp(beta x_i^T xi - m) below the accumulation dtype's smallest normal number (e^-87 in float32) is 0 in the
chunked kernel (``streaming.softmax_pass`` zeroes it exactly, as float32 underflow would). Once a query's
running maximum m has grown, a whole tile of patterns usually holds no score within that floor of m, and then
the tile changes nothing: not m, not the sum of exponentials, not the weighted sum of patterns.

So per tile of ``TILE`` patterns this pass computes the scores (one matrix product, kept in cache), their row
maxima, and only for the query rows that have a score above m + floor (the "live" rows) the weights and the
second product. The arithmetic of a live row is that of the chunked kernel (shift by the new maximum, clamp,
exp, zero below the floor, rescale the running sums by exp(m_old - m_new)); a row that is not live would add
exact zeros there. At beta = 8 on +-1 patterns (the capacity frontier) a tile has a live row about once in a
thousand, so a pass costs its first matrix product and a read of the scores: below the two bare products.

Where the weights are dense (a small beta, a pass at the start of the patterns) nearly every row is live; the
pass then hands the rest of its patterns back (``Tail.stopped``) to the caller's fused kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hopfield_cli.core.online_softmax import Partial, weight_floor

TILE = (
    1024  # patterns per score tile: a (1024 queries x 1024) float32 tile is 4 MiB, the scores stay in cache
)
QUERY_ROWS = 1024  # queries per pass call: a (512 x 1024) tile runs its product 30% slower than (1024 x 1024)
WINDOW = 16  # tiles per window of the density test
PROBE_TILES = 64  # tiles read before the pass may decide that the weights are dense
DENSE_FRACTION = 0.9  # more live rows than this in a window (after PROBE_TILES) and the rest goes to fused
ENABLED = True  # tests switch the sparse-tail pass off to compare it with the other kernels


@dataclass
class Tail:
    """The partial of patterns [0, stopped) for every query, and where the pass stopped (n: at the end)."""

    partial: Partial
    stopped: int


def available(dtype: torch.dtype, device: torch.device) -> bool:
    """Float32/float64 passes on the CPU: a GPU would wait on every tile's count of live rows."""
    return ENABLED and device.type == "cpu" and dtype in (torch.float32, torch.float64)


def _cuts(start: int, stop: int, every: int):
    """[a, b) pieces of [start, stop) that end at the multiples of ``every`` (and at ``stop``)."""
    while start < stop:
        end = min((start // every + 1) * every, stop)
        yield start, end
        start = end


def tail_partial(
    patterns: torch.Tensor,  # (N, d), or a source drawn block by block (slices only)
    scaled_queries: torch.Tensor,  # (B, d) beta * xi in the accumulation dtype
    *,
    chunk_rows: int,
    with_states: bool,
    may_stop: bool,
    start: int = 0,
    stop: int | None = None,
    init: Partial | None = None,
) -> Tail:
    """The online softmax (m, s, o) of beta X^T xi over the patterns, skipping the query rows of a tile whose
    scores all lie below m + floor (``online_softmax.weight_floor`` of the queries' dtype, < 0).

    ``chunk_rows``: the most pattern rows read from ``patterns`` at once (a drawn source's blocks in flight).
    ``start``/``stop``: the range of patterns read (default all); ``init``: the partial of the patterns before
    ``start``, continued (its tensors may be updated in place; ``core.prefix_pass`` reads every prefix of the
    patterns in one pass).
    ``may_stop``: hand the remaining patterns back to a fused kernel once more than ``DENSE_FRACTION`` of the
    rows were live over a window of ``WINDOW`` tiles, from the ``PROBE_TILES``-th tile on. Where the weights
    are sparse the live rows thin out as the running maxima grow (a new pattern sets a record of a query's
    scores ever more rarely): on +-1 patterns at beta = 8 and d = 128, 87% of the rows are live over the first
    16 tiles, 42% at tile 64, 4% at tile 1,024. Where they are dense (a small beta) nearly every row stays live.
    """
    n, d = patterns.shape
    n = n if stop is None else stop
    b = scaled_queries.shape[0]
    acc, dev = scaled_queries.dtype, scaled_queries.device
    if init is None:
        m = torch.full((b,), float("-inf"), dtype=acc, device=dev)
        s = torch.zeros(b, dtype=acc, device=dev)
        o = torch.zeros(b, d, dtype=acc, device=dev) if with_states else None
    else:
        m, s, o = init.m, init.s, init.o
    floor = weight_floor(acc)
    scores = torch.empty(b * TILE, dtype=acc, device=dev)
    tiles = window_live = window_tiles = 0  # tiles read; live rows over the window's tiles
    zero_below = math.exp(floor) * 1.5  # exp of a clamped score: set to exact 0, as the chunked kernel does
    # chunks and tiles end at multiples of chunk_rows and TILE: a pass over [0, N) continued at a checkpoint
    # multiplies the tiles of the pass that never stopped there, but for the one tile the checkpoint cuts
    for c0, c1 in _cuts(start, n, chunk_rows):
        chunk = patterns[c0:c1]
        if chunk.dtype != acc:
            chunk = chunk.to(acc)
        for t0, t1 in _cuts(c0, c1, TILE):
            if window_tiles == WINDOW:
                dense = window_live > DENSE_FRACTION * window_tiles * b
                if may_stop and dense and tiles >= PROBE_TILES:
                    return Tail(Partial(m, s, o), t0)
                window_live = window_tiles = 0
            x = chunk[t0 - c0 : t1 - c0]
            tile = scores[: b * x.shape[0]].view(b, x.shape[0])
            torch.mm(scaled_queries, x.T, out=tile)
            tile_max = tile.amax(dim=1)
            live = (tile_max > m + floor).nonzero().reshape(-1)
            tiles, window_tiles, window_live = tiles + 1, window_tiles + 1, window_live + live.numel()
            if live.numel() == 0:
                continue  # every weight of this tile is below the floor: exact zeros
            every = live.numel() == b
            rows = tile if every else tile.index_select(0, live)
            m_old = m if every else m.index_select(0, live)
            m_new = torch.maximum(m_old, tile_max if every else tile_max.index_select(0, live))
            alpha = (m_old - m_new).exp_()  # 0 for a row's first live tile (m_old = -inf)
            rows.sub_(m_new[:, None]).clamp_min_(floor)
            torch.nn.functional.threshold_(rows.exp_(), zero_below, 0.0)
            s_new = (s if every else s.index_select(0, live)).mul_(alpha).add_(rows.sum(dim=1))
            if every:
                m, s = m_new, s_new
            else:
                m.index_copy_(0, live, m_new)
                s.index_copy_(0, live, s_new)
            if o is not None:
                o_rows = o if every else o.index_select(0, live)
                o_rows.mul_(alpha[:, None]).addmm_(rows, x)
                if not every:
                    o.index_copy_(0, live, o_rows)
    return Tail(Partial(m, s, o), n)
