"""Memory footprint of a run, estimated from its config before anything is allocated.

Each term is one large array, in bytes, with the config field that sets its size, so a run that cannot fit
ends in one line naming the field to lower (``app/checks``). The per-command estimates live in the
experiments' modules (``footprint(cfg)``); the per-family working memory lives here, measured on the code
paths of ``core/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GENERATE_BYTES = 16  # random patterns: int64 draws (8) -> float32 (4) -> +-1 (4)
STATS_BYTES = 8  # float64 copies of the patterns for norms and separation (store, metastable-scan)
ROW_BYTES = 256  # one result row in memory: pandas columns, JSON line, CSV/Parquet buffers


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


def model_terms(model: str, n: int, d: int, b: int, elem: int, n_field: str) -> list[Term]:
    """What a family holds beyond patterns and queries (core/*.py)."""
    if model == "modern":  # streamed: the score block is capped by memory_budget, so only states count
        return [Term("num_queries", b * d * (2 * elem + 3 * max(elem, 4)), f"{b:,} x {d:,} states")]
    if model == "classical":
        if n > d:  # the Hebbian weights d x d (core/classical.py)
            return [Term("dim", d * d * elem, f"{d:,} x {d:,} Hebbian weights")]
        return [Term("num_queries" if b >= n else n_field, b * n * elem, f"{b:,} x {n:,} overlaps")]
    copies = (
        4 if model == "sparse" else 2
    )  # sparse sorts the scores; dense/exponential keep scores + F(scores)
    return [
        Term("num_queries" if b >= n else n_field, copies * b * n * elem, f"{b:,} x {n:,} scores ({model})")
    ]


def generated(cfg: Any) -> bool:
    """Whether the patterns are drawn (their size comes from the config, not from a file)."""
    return getattr(cfg, "memory", None) is None and cfg.patterns.name not in ("file", "images")
