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
import math
from typing import Any

import numpy as np
import torch

from hopfield_cli.experiments.patterns import PatternSet, build_patterns, from_disk, held_dtype, prepare

BLOCK_ROWS = (
    4096  # generated patterns come in blocks of this many rows: every N is a prefix of the same stream
)
CACHE_BYTES = 1 << 30  # generated rows kept across cells (all trials of one d); beyond it they are redrawn


# the +-1 signs of each byte's 8 bits, little-endian (bit j of a packed row -> component j)
SIGNS = (((np.arange(256)[:, None] >> np.arange(8)) & 1) * 2 - 1).astype(np.float32)


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
        return build_patterns(cfg, torch.Generator().manual_seed(cfg.seed), raw=True)
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
        self.kept: dict[tuple[int, int], torch.Tensor] = {}  # prepared blocks of ``drawn`` (CACHE_BYTES)
        self.kept_bytes = 0
        self.norms: dict[tuple[int, int], float] = {}
        self.drawn_rows = 0  # rows drawn for ``drawn`` sources (the sweep's count of work)

    @property
    def limit(self) -> int:
        """The largest N this bank can store: the fixed matrix's rows, or ``n_max``."""
        from hopfield_cli.experiments.capacity_sweep.schedule import n_limit

        return int(self.fixed.shape[0]) if self.fixed is not None else n_limit(self.cfg)

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
            whole = (
                min(-(-self.limit // BLOCK_ROWS), -(-CACHE_BYTES // (BLOCK_ROWS * self.dim * 4))) * BLOCK_ROWS
            )
            capacity = max(rows, whole)  # the limit's rows, or what the cache holds (a huge n_max)
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
        self.kept, self.kept_bytes = {}, 0

    # --- drawn on demand: nothing held beyond the blocks in flight and the cache -------------------------
    def streams(self) -> bool:
        """Whether prefixes can be drawn block by block (``drawn``): generated patterns whose preparation acts
        on each row alone (``normalise`` none or unit, ``binarise``), so a block's rows do not depend on N."""
        return self.fixed is None and str(self.cfg.normalise) in ("none", "unit")

    def drawn(self, trial: int, n: int) -> DrawnPatterns:
        """The first ``n`` patterns of ``trial`` as a ``DrawnPatterns`` source: equal row for row to
        ``prefix(trial, n)``, drawn block by block from their seeds whenever a pass reads them."""
        return DrawnPatterns(self, trial, n, held_dtype(self.cfg), torch.device("cpu"))

    def block_norm(self, trial: int, block: int, measure: Any) -> float:
        """max ||x_i|| of one full block, measured once by ``measure()`` and memoised."""
        if (trial, block) not in self.norms:
            self.norms[(trial, block)] = float(measure())
        return self.norms[(trial, block)]

    def packs_bits(self) -> bool:
        """Whether the blocks are +-1 signs (``patterns=binary``) kept as packed bits: d / 8 bytes a row instead
        of 4 d, so the cache holds 32x more rows (at d = 128, 67 M rows a GiB: every pass and every cell of a
        frontier series reads the rows drawn once) and unpacking costs less than drawing again."""
        return self.fixed is None and self.cfg.patterns.name == "binary"

    def bits_block(self, trial: int, block: int) -> np.ndarray:
        """Block ``block`` of ``trial`` as little-endian packed bits (BLOCK_ROWS, ceil(d / 8)) uint8: bit j of a
        row is 1 where the pattern's component j is +1. The same values as ``block``: one ``random_bits`` draw
        from the block's own generator (``data.patterns.binary`` = 2 bits - 1)."""
        from hopfield_cli.data.patterns import random_bits

        key = (trial, block)
        got = self.kept.get(key)
        if got is not None:
            return got
        gen = generator(int(self.cfg.seed), "patterns", self.dim, trial, block)
        bits = random_bits((BLOCK_ROWS, self.dim), gen).numpy()
        packed = np.packbits(bits, axis=1, bitorder="little")
        self.drawn_rows += BLOCK_ROWS
        if self.kept_bytes + packed.nbytes <= CACHE_BYTES:
            self.kept[key] = packed
            self.kept_bytes += packed.nbytes
        return packed

    def fill_rows(self, trial: int, block: int, lo: int, hi: int, out: torch.Tensor) -> None:
        """Rows [lo, hi) of block ``block`` of ``trial``, prepared as ``prefix`` prepares them, into ``out``."""
        if not self.packs_bits():
            out.copy_(self.prepared_block(trial, block)[lo:hi])
            return
        packed = self.bits_block(trial, block)[lo:hi]
        if str(self.cfg.normalise) == "none" and not self.cfg.binarise and out.dtype == torch.float32:
            # a table of the 256 bytes' 8 signs: one numpy gather writes 2 b - 1 straight into ``out``, 20x
            # faster than torch's elementwise ops on a busy machine (the values of ``block``)
            whole = self.dim % 8 == 0 and out.is_contiguous()
            target = out.numpy() if whole else np.empty((hi - lo, packed.shape[1] * 8), np.float32)
            np.take(SIGNS, packed.reshape(-1), axis=0, out=target.reshape(-1, 8))
            if not whole:
                out.copy_(torch.from_numpy(target[:, : self.dim]))
            return
        bits = np.unpackbits(packed, axis=1, count=self.dim, bitorder="little")
        signs = torch.from_numpy(bits).to(torch.float32).mul_(2.0).sub_(1.0)
        out.copy_(prepare(signs, self.cfg.normalise, self.cfg.binarise, held_dtype(self.cfg)))

    def prepared_block(self, trial: int, block: int) -> torch.Tensor:
        """Block ``block`` of ``trial``, prepared as ``prefix`` prepares rows, in the held dtype; kept (all trials)
        while the kept blocks fit ``CACHE_BYTES``, drawn again from its seed otherwise (+-1 blocks: kept as
        packed bits, ``bits_block``)."""
        if self.packs_bits():
            rows = torch.empty(BLOCK_ROWS, self.dim, dtype=held_dtype(self.cfg))
            self.fill_rows(trial, block, 0, BLOCK_ROWS, rows)
            return rows
        key = (trial, block)
        got = self.kept.get(key)
        if got is not None:
            return got
        rows = prepare(self.block(trial, block), self.cfg.normalise, self.cfg.binarise, held_dtype(self.cfg))
        self.drawn_rows += BLOCK_ROWS
        size = rows.numel() * rows.element_size()
        if self.kept_bytes + size <= CACHE_BYTES:
            self.kept[key] = rows
            self.kept_bytes += size
        return rows


class DrawnPatterns:
    """The first ``n`` patterns of one trial's stream, never held whole: reading rows draws their blocks.

    Quacks like the (n, d) tensor the core reads: ``shape``, ``dtype``, ``device``, ``dim()``, ``to``, slices
    ``x[a:b]`` (drawn, prepared and moved to ``device``: the core's pattern chunks) and index tensors ``x[ids]``
    (targets, nearest patterns). Blocks are drawn on the CPU from their CPU generators, so the values are
    exactly those of ``PatternBank.prefix`` on every device, and moved to the device that uses them.
    ``chunk_rows``: the most rows one slice should hold (the core caps its pattern chunks there), so memory
    is bounded by the blocks in flight whatever n is.
    """

    chunk_rows = 16 * BLOCK_ROWS

    def __init__(self, bank: PatternBank, trial: int, n: int, dtype: torch.dtype, device: torch.device):
        self.bank, self.trial, self.n = bank, trial, int(n)
        self.dtype, self.device = dtype, torch.device(device)
        self._norm: float | None = None

    @property
    def shape(self) -> torch.Size:
        return torch.Size((self.n, self.bank.dim))

    def dim(self) -> int:
        return 2

    def __len__(self) -> int:
        return self.n

    def size(self, i: int | None = None):
        return self.shape if i is None else self.shape[i]

    def detach(self) -> DrawnPatterns:
        return self

    def to(self, *args: Any, **kwargs: Any) -> DrawnPatterns:
        """The same rows on another device and/or in another dtype (``to(device=, dtype=)`` or ``to(dtype)``)."""
        device, dtype = kwargs.get("device", self.device), kwargs.get("dtype", self.dtype)
        for a in args:
            if isinstance(a, torch.dtype):
                dtype = a
            elif a is not None:
                device = a
        out = DrawnPatterns(self.bank, self.trial, self.n, dtype, torch.device(device))
        out._norm = self._norm
        return out

    RING = 3  # chunk buffers reused in turn: a slice's rows stay valid while the next two slices are read

    def _buffer(self, rows: int) -> torch.Tensor:
        """A (rows, d) buffer in the held dtype: one of ``RING`` reused chunk buffers when it fits one (a fresh
        32 MiB buffer per chunk cost more in page faults than unpacking its bits), else a new tensor."""
        dtype = held_dtype(self.bank.cfg)
        if rows > self.chunk_rows:
            return torch.empty(rows, self.bank.dim, dtype=dtype)
        if not hasattr(self, "_ring"):
            self._ring, self._turn = [], 0
        if len(self._ring) < self.RING:
            self._ring.append(torch.empty(self.chunk_rows, self.bank.dim, dtype=dtype))
            slot = self._ring[-1]
        else:
            slot = self._ring[self._turn % self.RING]
        self._turn += 1
        return slot[:rows]

    def _rows(self, start: int, stop: int) -> torch.Tensor:
        if self.bank.packs_bits():  # unpacked straight into one buffer: no per-block copies, no cat
            rows = self._buffer(stop - start)
            for b in range(start // BLOCK_ROWS, -(-stop // BLOCK_ROWS)):
                lo, hi = max(start - b * BLOCK_ROWS, 0), min(stop - b * BLOCK_ROWS, BLOCK_ROWS)
                at = b * BLOCK_ROWS + lo - start
                self.bank.fill_rows(self.trial, b, lo, hi, rows[at : at + hi - lo])
            return rows.to(device=self.device, dtype=self.dtype)
        parts = []
        for b in range(start // BLOCK_ROWS, -(-stop // BLOCK_ROWS)):
            block = self.bank.prepared_block(self.trial, b)
            lo, hi = max(start - b * BLOCK_ROWS, 0), min(stop - b * BLOCK_ROWS, BLOCK_ROWS)
            parts.append(block[lo:hi])
        rows = parts[0] if len(parts) == 1 else torch.cat(parts)
        return rows.to(device=self.device, dtype=self.dtype)

    def __getitem__(self, index: Any) -> torch.Tensor:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.n)
            if step != 1:
                raise IndexError("drawn patterns take contiguous slices only")
            if stop <= start:
                return torch.empty(0, self.bank.dim, dtype=self.dtype, device=self.device)
            return self._rows(start, stop)
        ids = torch.as_tensor(index).reshape(-1).cpu()
        if ids.numel() and (int(ids.min()) < -self.n or int(ids.max()) >= self.n):
            raise IndexError(f"row index out of range for {self.n} patterns")
        ids = torch.where(ids < 0, ids + self.n, ids)
        out = torch.empty(ids.numel(), self.bank.dim, dtype=self.dtype)
        blocks = ids // BLOCK_ROWS
        for b in torch.unique(blocks).tolist():
            where = (blocks == b).nonzero().reshape(-1)
            rows = self.bank.prepared_block(self.trial, b)
            out[where] = rows[ids[where] - b * BLOCK_ROWS].to(self.dtype)
        out = out.to(self.device)
        return out.reshape(*torch.as_tensor(index).shape, self.bank.dim)

    def max_norm(self) -> float:
        """max_i ||x_i|| over the n rows, as ``core.streaming.max_norm`` computes it (float32 norms per row)."""
        from hopfield_cli.core.streaming import max_norm

        if self._norm is None:
            spec = self.bank.cfg.patterns
            if spec.name == "binary" and str(self.bank.cfg.normalise) == "none":
                self._norm = max_norm(self[0:1])  # every +-1 row has the same norm, to the last bit
            else:
                full = self.n // BLOCK_ROWS
                norms = [
                    self.bank.block_norm(self.trial, b, lambda b=b: max_norm(self._block_rows(b)))
                    for b in range(full)
                ]
                if full * BLOCK_ROWS < self.n:  # the last, partial block depends on n: not memoised
                    norms.append(max_norm(self._block_rows(full)))
                self._norm = max(norms)
        return self._norm

    def _block_rows(self, b: int) -> torch.Tensor:
        return self[b * BLOCK_ROWS : min((b + 1) * BLOCK_ROWS, self.n)]


DUPLICATE_ODDS = 1e-12  # the nearest-pattern shortcut is taken where two equal patterns are less likely


def separation(cfg: Any, bank: PatternBank, n: int) -> float | None:
    """2 (the least distance between distinct +-1 patterns) for drawn +-1 patterns whose N patterns are all
    distinct but with odds below ``DUPLICATE_ODDS`` (N^2 / 2^(d+1), the union bound over pairs; at d = 128 and
    N = 10^9, 1.5e-21), else None. With it the success test finds the nearest pattern of a state close to its
    target without a pass over all N (``scoring.score``); a duplicate of a target at a lower index, which the
    full pass would report as the nearest, is what the odds bound."""
    if not bank.packs_bits() or cfg.normalise != "none":
        return None
    odds = 2.0 * math.log2(max(n, 1)) - (bank.dim + 1)
    return 2.0 if odds <= math.log2(DUPLICATE_ODDS) else None
