"""Memory footprint of a run, estimated from its config (and its input files' headers) before anything is allocated.

Each term is one large array or working set, in bytes, with the config field that sets its size, so a run that
cannot fit ends in one line naming the field to lower (``app/checks``). The terms are summed: freed memory is
not always returned to the system between the phases of a run (the allocator keeps it), so phases are not
assumed to reuse each other's memory. The per-command estimates live in the experiments' modules
(``footprint(cfg)``); what every command shares lives here: the stored patterns of each input path (drawn,
a memory file, a pattern file, images; their size from the file's header, ``source``) and each family's
working memory (``model_terms``). The per-entry constants were measured with ``ru_maxrss`` on the code paths
they name (``tests/hardening/test_footprint.py`` checks the sums against measured peaks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Peak bytes per entry of an (N, d) pattern matrix while it is made or read, the float32 result included.
GENERATE_BYTES = {"binary": 12, "gaussian": 8, "sphere": 20, "correlated": 16}  # data.patterns
# memory: the file is memory-mapped (its pages, 4 bytes per entry) and checksummed in blocks
LOAD_BYTES = {"memory": 5, "narrow": 9, "wide": 18, "csv": 64, "images": 12}  # narrow: <= 4 bytes stored
# The summary's statistics (M, m_max, Delta_i in Gram blocks), the memory file's writing and checksum: blocks of
# 64 MiB (data.memory_file) and 16 MiB Gram blocks (core.theory), the same at every N.
STATS_BLOCK_BYTES = 4 * (64 << 20)
DUPLICATE_ROW_BYTES = 48  # experiments.warnings, per row: its 64-bit hash, sort order, sorted hashes
DUPLICATE_BLOCK_ENTRIES = 1 << 22  # entries hashed per block (warnings.HASH_ENTRIES), 24 bytes each at most
ROW_BYTES = 256  # one result row in memory: pandas columns, JSON line, CSV/Parquet buffers
NEAREST_BYTES = 2 * 4 * (1 << 22)  # core.nearest: one (B, chunk) float32 block and its pattern rows


@dataclass(frozen=True)
class Term:
    """One array of the estimate: the field that sets its size, its bytes and how it reads."""

    field: str
    bytes: int
    what: str


def patterns_term(n_field: str, n: int, d: int, per: int, what: str) -> Term:
    """An N x d array; it names the larger factor's field (a typo makes one factor huge)."""
    return Term(n_field if n >= d else "dim", n * d * per, f"{n:,} x {d:,} {what}")


def elem_bytes(dtype: str) -> int:
    return 8 if dtype == "float64" else 4


def generated(cfg: Any) -> bool:
    """Whether the patterns are drawn (their size comes from the config, not from a file)."""
    return getattr(cfg, "memory", None) is None and cfg.patterns.name not in ("file", "images")


@dataclass(frozen=True)
class Source:
    """The stored patterns of a run: N x d, the peak bytes per entry while made or read, and the field."""

    n: int
    d: int
    per: int
    field: str
    what: str

    def term(self) -> Term:
        if self.field == "num_patterns":
            return patterns_term("num_patterns", self.n, self.d, self.per, f"patterns ({self.what})")
        return Term(self.field, self.n * self.d * self.per, f"{self.n:,} x {self.d:,} patterns ({self.what})")


def source(cfg: Any, n: int | None = None, d: int | None = None) -> Source:
    """The run's stored patterns, their size from the config (drawn: ``n`` x ``d``, by default num_patterns x
    dim) or from the input file's header (``data.readers.header_info``; images: the files x side^2)."""
    from hopfield_cli.data.readers import header_info

    if getattr(cfg, "memory", None) is not None:
        shape, _ = header_info(cfg.memory, "memory", ("patterns",))
        return Source(*_matrix(shape), LOAD_BYTES["memory"], "memory", "memory file")
    spec = cfg.patterns
    if spec.name == "images":
        from hopfield_cli.data.loaders import image_files

        count = len(image_files(spec.path, "patterns.path"))
        return Source(count, int(spec.side) ** 2, LOAD_BYTES["images"], "patterns.path", "images")
    if spec.name == "file":
        path = Path(spec.path).expanduser()
        shape, stored = header_info(path, "patterns.path", ("patterns",))
        kind = "csv" if path.suffix.lower() == ".csv" else ("wide" if stored > 4 else "narrow")
        return Source(*_matrix(shape), LOAD_BYTES[kind], "patterns.path", f"{path.suffix} file")
    n = int(cfg.num_patterns if n is None else n)
    d = int(cfg.dim if d is None else d)
    return Source(n, d, GENERATE_BYTES.get(spec.name, 20), "num_patterns", f"drawn {spec.name}")


def _matrix(shape: tuple[int, ...]) -> tuple[int, int]:
    """(N, d) of a 2-D shape; a 1-D bound (a legacy .pt) counts as one column; other shapes are refused when
    read, so they cost nothing here."""
    if len(shape) == 1:
        return int(shape[0]), 1
    return (int(shape[0]), int(shape[1])) if len(shape) == 2 else (0, 0)


def duplicate_term(field: str, n: int, d: int) -> Term:
    """experiments.warnings: the duplicate check (row hashes) and the sampled score-gap check, O(N) not O(N d)."""
    return Term(field, n * DUPLICATE_ROW_BYTES + DUPLICATE_BLOCK_ENTRIES * 24 + (64 << 20), "duplicate check")


def stats_term(field: str, n: int, d: int) -> Term:
    """The summary's streamed statistics and the duplicate check (store, metastable-scan)."""
    dup = duplicate_term(field, n, d)
    return Term(field, STATS_BLOCK_BYTES + dup.bytes, "statistics in blocks and the duplicate check")


def queries_term(b: int, d: int, steps: int) -> Term:
    """Queries with their states, moves and energies (B, T + 1), and the result rows."""
    return Term(
        "num_queries",
        b * d * 4 * 5 + b * (steps + 1) * 8 + b * ROW_BYTES,
        f"{b:,} x {d:,} queries, their states and result rows",
    )


def nearest_term(n: int) -> Term:
    """core.nearest: the half squared norms (N,) and one score block."""
    return Term("num_queries", NEAREST_BYTES + n * 8, "nearest-pattern search")


def modern_block(n: int, b: int, cfg: Any) -> int:
    """Bytes of the modern network's largest score block, as ``core.budget`` plans it for this run."""
    from hopfield_cli.core.budget import plan_chunks, resolve_budget

    budget = resolve_budget(getattr(cfg, "budget_bytes", None), "cpu")
    dtype = _torch_dtype(cfg.dtype)
    return max(
        plan_chunks(max(n, 1), max(b, 1), dtype=dtype, memory_budget=budget, with_stats=stats).block_bytes
        for stats in (False, True)
    )


def _torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


def model_terms(model: str, n: int, d: int, b: int, cfg: Any, n_field: str) -> list[Term]:
    """What a family holds beyond patterns and queries, for B queries against N patterns: the family's
    record (``core.models.FAMILIES``: ``working_memory``) with each array named by the field that sets it."""
    from hopfield_cli.core.models import family

    elem = elem_bytes(cfg.dtype)
    bn_field = "num_queries" if b >= n else n_field
    record = family(model)
    if (
        record.working_memory is None
    ):  # the modern network: streamed, one score block as planned for the budget
        block = modern_block(n, b, cfg)
        return [
            Term("num_queries", b * d * (2 * elem + 3 * max(elem, 4)), f"{b:,} x {d:,} states"),
            Term("memory_budget" if block > (1 << 26) else bn_field, block, "one block of scores (modern)"),
        ]
    fields = {"patterns": "dim" if d > n else n_field, "overlaps": bn_field, "dim": "dim"}
    return [Term(fields[kind], size, what) for kind, size, what in record.working_memory(n, d, b, elem)]


def prepare_terms(cfg: Any, src: Source) -> list[Term]:
    """normalise and binarise make new copies of the patterns (``experiments.patterns.prepare``)."""
    copies = (2 if getattr(cfg, "normalise", "none") != "none" else 0) + (
        1 if getattr(cfg, "binarise", False) else 0
    )
    if not copies:
        return []
    return [
        Term(
            src.field if src.field != "num_patterns" else "num_patterns",
            src.n * src.d * 4 * (copies + 1),
            "normalised/binarised copies",
        )
    ]
