"""Retrieve a large batch of queries in blocks, so a long streaming pass shows its progress.

Each query's retrieval is independent of the others in its batch (the update, Eq. 3 of Ramsauer et al. 2021,
acts row by row; the binary families draw their update order from a fresh generator per call, the same for
every block), so scoring B queries as consecutive blocks gives the rows one call would give, while the bar
advances once per block, by its number of queries. The block sizes depend only on N, d and B (never on
timings), so a run is reproducible: the first block is small, for a first ETA within a few seconds, then they
double up to a block of about ``BLOCK_WORK_MAX`` multiply-adds per update step. A block costs a fixed pass over
the N patterns besides its queries' work (the streaming kernel: 10 queries against N = 10^5 took as long as
100), so no block is smaller than BLOCK_WORK_FIRST.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from hopfield_cli.experiments.scoring import Scored, score

BLOCK_WORK_FIRST = 1 << 29  # N * d * b of the first block: about a second per update step on a busy CPU
BLOCK_WORK_MAX = 1 << 32  # ... and of the largest: a few seconds per step, many blocks a heartbeat apart


def block_sizes(n: int, d: int, b: int) -> list[int]:
    """Sizes of consecutive query blocks covering ``b`` queries against ``n`` x ``d`` patterns: one block
    when the whole pass is small, else doubling from BLOCK_WORK_FIRST to BLOCK_WORK_MAX multiply-adds."""
    per_query = max(n * d, 1)
    if per_query * b <= BLOCK_WORK_FIRST:
        return [b] if b else []
    size, largest = max(1, BLOCK_WORK_FIRST // per_query), max(1, BLOCK_WORK_MAX // per_query)
    sizes, done = [], 0
    while done < b:
        take = min(size, b - done)
        if b - done - take < size // 2:  # no small last block: it would pay a whole pass for a few queries
            take = b - done
        sizes.append(take)
        done += take
        size = min(size * 2, largest)
    return sizes


def _blocks(b: int, sizes: list[int]) -> Iterator[slice]:
    start = 0
    for size in sizes:
        yield slice(start, start + size)
        start += size


def score_in_blocks(
    model: Any,
    patterns: torch.Tensor,  # (N, d) on the run's device and dtype
    queries: torch.Tensor,  # (B, d)
    target_ids: torch.Tensor | None,  # (B,)
    description: str = "retrieve",
    **kwargs: Any,  # score's keyword arguments: update_steps_max, eps, criterion, tol
) -> Scored:
    """``scoring.score`` over consecutive blocks of queries with a bar advancing by each block's queries (a
    pass of one block: one call, no bar)."""
    from hopfield_cli.report.console import cell_progress

    n, d = patterns.shape
    b = queries.shape[0]
    sizes = block_sizes(n, d, b)
    if len(sizes) <= 1:
        return score(model, patterns, queries, target_ids, **kwargs)
    parts = []
    with cell_progress(description, b, unit="queries") as bar:
        for rows in _blocks(b, sizes):
            bar.begin(f"queries {rows.start + 1:,}-{rows.stop:,}")
            targets = None if target_ids is None else target_ids[rows]
            parts.append(score(model, patterns, queries[rows], targets, **kwargs))
            bar.advance(rows.stop - rows.start)
    return concat_scored(parts)


def _pad_right(energies: torch.Tensor, width: int) -> torch.Tensor:
    """Repeat the last column to ``width`` columns (a converged query's energy stays put: ``RetrievalResult``)."""
    missing = width - energies.shape[1]
    if missing <= 0:
        return energies
    return torch.cat([energies, energies[:, -1:].expand(-1, missing)], dim=1)


def _cat(values: list[torch.Tensor | None]) -> torch.Tensor | None:
    return None if any(v is None for v in values) else torch.cat(values)  # type: ignore[arg-type]


def concat_scored(parts: list[Scored]) -> Scored:
    """The blocks' ``Scored`` as one, in order; energies padded to the longest block's steps."""
    results = [p.result for p in parts]
    width = max(r.energies.shape[1] for r in results)
    caps = [r.k90_cap for r in results if r.k90_cap is not None]
    result = type(results[0])(
        states=torch.cat([r.states for r in results]),
        steps=torch.cat([r.steps for r in results]),
        energies=torch.cat([_pad_right(r.energies, width) for r in results]),
        converged=torch.cat([r.converged for r in results]),
        max_weight=_cat([r.max_weight for r in results]),
        k90=_cat([r.k90 for r in results]),
        k90_cap=min(caps) if caps else None,
    )
    return Scored(
        result,
        torch.cat([p.states for p in parts]),
        torch.cat([p.nearest_ids for p in parts]),
        torch.cat([p.nearest_distance for p in parts]),
        _cat([p.target_ids for p in parts]),
        _cat([p.success for p in parts]),
        _cat([p.error_norm for p in parts]),
        _cat([p.cosine for p in parts]),
    )
