"""Warnings where a run's results lose their meaning: printed as one line each, and the run goes on.

The modern update xi <- X softmax(beta X^T xi) (Ramsauer et al., 2021, Eq. 3) separates patterns only
through the gaps between their scores x_i . xi: duplicated patterns tie, N = 1 leaves nothing to separate,
d = 1 patterns differ only in sign and scale, and once beta times the smallest score gap is far beyond
float32's resolution every softmax is one-hot, so the network is a nearest-pattern lookup.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hopfield_cli.report.console import say

# beta * (gap between the two largest scores) beyond this: the runner-up weight exp(-gap) is below float32's
# resolution next to 1, so the softmax is one-hot and the modern update is a nearest-pattern lookup.
ONE_HOT_SCORE_GAP = 17.0


def meaning_warnings(patterns: torch.Tensor, betas: list[float] | None = None) -> list[str]:
    """Where the results of a run lose meaning, one line each (the run goes on; see ``warn``).

    Duplicated patterns make retrieval ambiguous (the nearest pattern is a tie); N = 1 leaves nothing to tell
    apart; d = 1 patterns differ only in sign and scale; a beta whose smallest nonzero score gap is beyond
    ONE_HOT_SCORE_GAP (x 1e3) makes every softmax one-hot in float32. ``betas`` None: no family with an
    inverse temperature runs (``families.has_beta``). Both checks stream: the duplicates are exact in O(N)
    memory (``_unique_rows``); the score gap is exact up to GAP_EXACT_PAIRS pairs and on a seeded sample (its
    size in the warning) beyond.
    """
    n, d = patterns.shape
    lines = []
    if n == 1:
        lines.append("num_patterns: only one stored pattern; every query retrieves it, success says nothing")
    if d == 1:
        lines.append("dim: d = 1; patterns differ only in sign and scale, separation is degenerate")
    unique = _unique_rows(patterns) if n > 1 else n
    if unique < n:
        lines.append(
            f"patterns: {n - unique} of {n} stored patterns duplicate another; retrieving them is ambiguous "
            "(the nearest pattern is a tie)"
        )
    if betas:
        gap, compared = _smallest_score_gap(patterns)
        beta_max = max(betas)
        if gap is not None and beta_max * gap > ONE_HOT_SCORE_GAP * 1e3:
            among = "" if compared == n else f" among {min(n, GAP_ROWS)} x {compared:,} sampled pairs"
            lines.append(
                f"beta: beta = {beta_max:g} makes every softmax one-hot in float32 (smallest score gap "
                f"{gap:.3g}{among}); the modern network acts as a nearest-pattern lookup"
            )
    return lines


GAP_BLOCK_ELEMENTS = 1 << 20  # (256 x chunk) float64 score blocks of 8 MiB
GAP_ROWS = 256  # the patterns i of the score-gap check
GAP_EXACT_PAIRS = 1 << 24  # up to 256 x 65,536 pairs the gap is exact over all j; beyond, a seeded sample
GAP_SAMPLE_SEED = 0
HASH_ENTRIES = 1 << 22  # entries (rows x d) hashed per block by the duplicate check


def _unique_rows(patterns: torch.Tensor) -> int:
    """How many distinct rows, exactly, in O(N) memory: each row's bytes are hashed in blocks (a 64-bit
    multiply-add hash of its 32-bit words), the N hashes sorted, and only rows whose hashes collide are compared
    byte by byte. -0.0 is first made +0.0 so that rows equal as numbers are equal as bytes. (B, d) blocks of
    ``HASH_ENTRIES`` entries and the (N,) hashes with their sort: about 24 bytes per pattern.
    """
    n, d = patterns.shape
    words = _row_words(patterns[:1]).shape[1]
    mult = np.random.default_rng(0x5EED).integers(1, 2**63, size=words, dtype=np.uint64) | np.uint64(1)
    hashes = np.empty(n, dtype=np.uint64)
    step = max(1, HASH_ENTRIES // max(d, 1))
    for start in range(0, n, step):
        block = _row_words(patterns[start : start + step])
        acc = np.zeros(block.shape[0], dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(words):  # h = sum_j (w_j + j) * a_j  mod 2^64, a_j odd random
                acc += (block[:, j].astype(np.uint64) + np.uint64(j)) * mult[j]
            acc ^= acc >> np.uint64(29)
        hashes[start : start + block.shape[0]] = acc
    order = np.argsort(hashes, kind="stable")
    sorted_hashes = hashes[order]
    del hashes
    same = sorted_hashes[1:] == sorted_hashes[:-1]
    if not same.any():
        return n
    # groups of equal hashes: count the distinct rows inside each, exactly
    starts = np.flatnonzero(np.concatenate(([True], ~same)))
    ends = np.append(starts[1:], n)
    unique = n
    for a, b in zip(starts, ends, strict=True):
        if b - a < 2:
            continue
        ids = torch.from_numpy(np.sort(order[a:b]))
        rows = _row_words(patterns[ids])
        items = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
        unique -= (b - a) - int(np.unique(items).shape[0])
    return unique


def _row_words(rows: torch.Tensor) -> np.ndarray:
    """The rows' bytes as 32-bit words (B, words), -0.0 made +0.0; a copy of the rows given, no more."""
    block = np.ascontiguousarray((rows.detach().cpu() + 0.0).numpy())
    width = block.dtype.itemsize * block.shape[1]
    if width % 4:
        block = np.concatenate([block.view(np.uint8), np.zeros((block.shape[0], 4 - width % 4), np.uint8)], 1)
    return block.view(np.uint32).reshape(block.shape[0], -1)


def _smallest_score_gap(patterns: torch.Tensor) -> tuple[float | None, int]:
    """min over GAP_ROWS patterns i and the patterns j of |x_i^T x_i - x_i^T x_j| > 0, in float64, in chunks,
    and how many j were compared.

    The first 256 patterns i against all N patterns j while that is at most ``GAP_EXACT_PAIRS`` pairs (exact);
    beyond, 256 patterns i and GAP_EXACT_PAIRS / 256 patterns j drawn with seed ``GAP_SAMPLE_SEED`` (the same
    sample for the same memory), so the check costs O(1) in N. The sampled minimum is an upper bound of the
    exact one.
    """
    n, d = patterns.shape
    rows = min(n, GAP_ROWS)
    if n * rows <= GAP_EXACT_PAIRS:
        sample, columns = patterns[:rows].double(), None
    else:
        gen = torch.Generator().manual_seed(GAP_SAMPLE_SEED)
        sample = patterns[torch.randperm(n, generator=gen)[:rows]].double()
        columns = torch.randperm(n, generator=gen)[: GAP_EXACT_PAIRS // rows].sort().values
    own = sample.pow(2).sum(dim=1)
    m = n if columns is None else columns.numel()
    step = max(1, GAP_BLOCK_ELEMENTS // max(d, rows))
    best = None
    for start in range(0, m, step):
        part = patterns[start : start + step] if columns is None else patterns[columns[start : start + step]]
        gaps = (own[:, None] - sample @ part.double().T).abs_()  # (S, chunk)
        value = float(torch.where(gaps > 0, gaps, torch.inf).min())
        if value < math.inf:
            best = value if best is None else min(best, value)
    return best, m


def warn(lines: list[str]) -> None:
    """Print each warning as one line on stderr and keep it in the run's log (once: not through the root
    logger, whose console handler would print it a second time)."""
    for line in lines:
        say(f"warning: {line}", err=True)
