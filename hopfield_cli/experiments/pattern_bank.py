"""The stored patterns of a capacity sweep: every N is a prefix of one deterministic stream per (d, trial).

Generated sources are drawn in blocks of ``BLOCK_ROWS`` rows, block b of trial t from its own generator seeded
by (seed, "patterns", d, t, b), so the first N rows never depend on how far the stream was grown: a resumed
sweep and an uninterrupted one store the same patterns, and n_max = 1e6 costs nothing until a model gets there.
Correlated patterns share ONE prototype per trial (seeded by (seed, "prototype", d, t)), drawn by
``data.patterns.correlated_prototype`` and passed to every block, so the overlap x_i . x_j / d = rho holds
across blocks too. Fixed sources (a memory file, a matrix file, images) are one matrix shared by all trials: N
ranges over its prefixes and the trials differ in their queries only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

from hopfield_cli.experiments.patterns import PatternSet, build_patterns, from_disk, held_dtype, prepare

BLOCK_ROWS = (
    4096  # generated patterns come in blocks of this many rows: every N is a prefix of the same stream
)
CACHE_BYTES = 1 << 30  # generated rows kept across cells (all trials of one d); beyond it they are redrawn


def derived_seed(*parts: Any) -> int:
    """A seed for one named stream (patterns of a block, queries of a cell): stable across runs and machines."""
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(*parts: Any) -> torch.Generator:
    """A CPU generator seeded by ``derived_seed(*parts)``."""
    return torch.Generator().manual_seed(derived_seed(*parts))


def load_fixed(cfg: Any) -> PatternSet | None:
    """The matrix of ``memory=`` or ``patterns=file|images``, as read (no normalise/binarise); None when drawn."""
    if cfg.memory is not None:
        from hopfield_cli.data.memory_file import load_memory

        patterns, metadata = load_memory(cfg.memory, field="memory")
        return PatternSet(patterns.to(held_dtype(cfg)).contiguous(), dict(metadata))
    if from_disk(cfg.patterns):
        return build_patterns(cfg, torch.Generator().manual_seed(int(cfg.seed)), raw=True)
    return None


class PatternBank:
    """Stored patterns of one dimension d for every trial, as prefixes of one deterministic stream.

    Drawn rows are kept (all trials of this d) up to ``CACHE_BYTES``; beyond it the other trials' rows are
    dropped and redrawn when needed, with the same values. ``normalise``/``binarise`` act on the prefix, i.e.
    on the memory of N patterns actually stored.
    """

    def __init__(self, cfg: Any, dim: int, fixed: torch.Tensor | None):
        self.cfg, self.dim, self.fixed = cfg, dim, fixed
        # per trial: a (capacity, d) row buffer, of which the first filled[trial] rows are drawn
        self.rows: dict[int, torch.Tensor] = {}
        self.filled: dict[int, int] = {}

    @property
    def limit(self) -> int:
        """The largest N this bank can store: the fixed matrix's rows, or ``n_max``."""
        return int(self.fixed.shape[0]) if self.fixed is not None else int(self.cfg.n_max)

    def block(self, trial: int, block: int) -> torch.Tensor:
        """Rows [block * BLOCK_ROWS, (block + 1) * BLOCK_ROWS) of ``trial``'s stream, (BLOCK_ROWS, d) float32."""
        from hopfield_cli.data import patterns as sources

        spec, seed = self.cfg.patterns, int(self.cfg.seed)
        gen = generator(seed, "patterns", self.dim, trial, block)
        if spec.name != "correlated":
            return sources.make_patterns(spec, BLOCK_ROWS, self.dim, gen)
        prototype = sources.correlated_prototype(
            self.dim, generator(seed, "prototype", self.dim, trial), spec.entries
        )
        return sources.correlated(
            BLOCK_ROWS, self.dim, gen, rho=spec.correlation, entries=spec.entries, prototype=prototype
        )

    def _raw(self, trial: int, n: int) -> torch.Tensor:
        if self.fixed is not None:
            return self.fixed[:n]
        have_n = self.filled.get(trial, 0)
        if have_n < n:
            end = -(-n // BLOCK_ROWS) * BLOCK_ROWS
            others = sum(self.filled[t] * self.dim * 4 for t in self.rows if t != trial)
            # memory bounded at huge N: the other trials' rows are dropped, and redrawn when needed
            if end * self.dim * 4 + others > CACHE_BYTES:
                self.rows = {t: r for t, r in self.rows.items() if t == trial}
                self.filled = {t: f for t, f in self.filled.items() if t == trial}
            buffer = self._buffer(trial, end)
            for b in range(have_n // BLOCK_ROWS, end // BLOCK_ROWS):  # each block drawn once, in place
                buffer[b * BLOCK_ROWS : (b + 1) * BLOCK_ROWS] = self.block(trial, b)
            self.filled[trial] = end
        return self.rows[trial][:n]

    def _buffer(self, trial: int, rows: int) -> torch.Tensor:
        """The trial's row buffer with room for ``rows``: allocated once for the bank's whole limit (its pages are
        only touched as rows are drawn), so growing N never copies what was drawn."""
        have = self.rows.get(trial)
        if have is None or have.shape[0] < rows:
            capacity = max(rows, -(-self.limit // BLOCK_ROWS) * BLOCK_ROWS)
            buffer = torch.empty(capacity, self.dim, dtype=torch.float32)
            if have is not None:
                buffer[: self.filled.get(trial, 0)] = have[: self.filled.get(trial, 0)]
            self.rows[trial] = have = buffer
        return have

    def prefix(self, trial: int, n: int) -> torch.Tensor:
        """The first ``n`` stored patterns of ``trial``, (n, d) in the run's held dtype (float32, float64 for a
        float64 run: ``patterns.held_dtype``), normalised/binarised as configured."""
        return prepare(self._raw(trial, n), self.cfg.normalise, self.cfg.binarise, held_dtype(self.cfg))

    def clear(self) -> None:
        """Free the drawn rows (the sweep is done with this dimension)."""
        self.rows, self.filled = {}, {}
