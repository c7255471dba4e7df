"""The one place queries are made: corrupted stored patterns, random points, or a user's file."""

from __future__ import annotations

import math
from typing import Any

import torch

from hopfield_cli.errors import UsageError


def target_ids(n: int, b: int, generator: torch.Generator) -> torch.Tensor:
    """B target patterns in shuffled rounds: every pattern once before any twice (B <= N: distinct). (B,)"""
    rounds = [torch.randperm(n, generator=generator) for _ in range(-(-b // n))]
    if len(rounds) == 1:  # b <= n: the first b of one permutation, without a copy of all n (160 MB at 2e7)
        return rounds[0][:b].clone()
    return torch.cat(rounds)[:b]


def few_target_ids(n: int, b: int, generator: torch.Generator) -> torch.Tensor:
    """B distinct target patterns of [0, n) in draw order, for B <= n / 2 without a permutation of all n
    (randperm(1.4e8) holds 1.1 GB): uniform ids, repeats dropped, drawn again until B. (B,) int64.
    ``target_ids`` where B > n / 2. (A stream of its own: the capacity sweep's ladders use it.)"""
    if 2 * b > n:
        return target_ids(n, b, generator)
    chosen: dict[int, None] = {}
    while len(chosen) < b:
        for i in torch.randint(0, n, (2 * (b - len(chosen)),), generator=generator).tolist():
            chosen.setdefault(i)
            if len(chosen) == b:
                break
    return torch.tensor(list(chosen), dtype=torch.int64)


def corrupted(
    patterns: torch.Tensor,
    corruption: Any,
    num_queries: int,
    generator: torch.Generator,
    image_side: int | None = None,
    sample=target_ids,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Queries (B, d) made by corrupting B stored patterns, and their target ids (B,) chosen by ``sample``."""
    from hopfield_cli.data.corruption import corrupt

    ids = sample(patterns.shape[0], num_queries, generator)
    return corrupt(patterns[ids], corruption, generator, image_side=image_side), ids


def random_points(patterns: torch.Tensor, num_queries: int, generator: torch.Generator) -> torch.Tensor:
    """m_x + r z / sqrt(d), z ~ N(0, I), r the rms distance of the patterns from their mean m_x: points
    spread like the patterns themselves. (B, d), drawn in float64 and held in float32, or in float64 for
    float64 patterns (a float64 run)."""
    x = patterns.double()
    d = x.shape[1]
    mean = x.mean(dim=0)
    rms = float((x - mean).norm(dim=1).pow(2).mean().sqrt())
    z = torch.randn(num_queries, d, generator=generator, dtype=torch.float64)
    held = torch.float64 if patterns.dtype == torch.float64 else torch.float32
    points = (mean + z * (rms / math.sqrt(d))).to(held)
    if not bool(torch.isfinite(points).all()):
        raise UsageError(
            "queries",
            f"random points spread like these patterns (rms distance {rms:.3g} from their mean) exceed {held}'s "
            "range; rescale the patterns or use queries=corrupted",
        )
    return points


def from_files(
    queries_file: str, targets_file: str | None, n: int, d: int, dtype: torch.dtype = torch.float32
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Queries (B, d) read from a file (in ``loaders.storage_dtype(dtype)``: a float64 run keeps a float64
    file's values), and target ids from another (None: the nearest patterns)."""
    from hopfield_cli.data.loaders import load_matrix

    queries = load_matrix(queries_file, field="queries_file", dtype=dtype)
    if queries.shape[1] != d:
        raise UsageError("queries_file", f"queries have d={queries.shape[1]} but the memory has d={d}")
    if targets_file is None:
        return queries, None
    targets = load_matrix(targets_file, field="targets_file", dtype=torch.float64).reshape(-1)
    if targets.numel() != queries.shape[0]:
        raise UsageError("targets_file", f"holds {targets.numel()} ids for {queries.shape[0]} queries")
    if not torch.equal(targets, targets.round()) or targets.min() < 0 or targets.max() >= n:
        raise UsageError("targets_file", f"ids must be integers in [0, {n - 1}]")
    return queries, targets.long()
