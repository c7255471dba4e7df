"""Will the run fit? Device, dtype and memory checked from the config alone, before anything is allocated.

``config.validate`` checks types, ranges and files; the checks here come last because they need torch (is
CUDA there? may this dtype run on that device?) and the free memory. The estimate counts the largest
arrays a run makes at its peak, as multiples of N x d, B x d and B x N (see each ``_<command>`` below), so
``num_patterns=10**9`` ends in one line saying how many GiB it needs and how many are free, instead of an
allocator traceback minutes later. Sources whose size comes from a file (``file``, ``images``, ``memory=``)
are not estimated: the file's own size bounds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hopfield_cli.errors import CapacityError, UsageError

GIB = 1024**3
# Bytes per element of the largest temporaries (measured on the code paths named in each estimate).
GENERATE_BYTES = 16  # random patterns: int64 draws (8) -> float32 (4) -> +-1 (4)
STATS_BYTES = 8  # float64 copies of the patterns for norms and separation (store, metastable-scan)
ROW_BYTES = 256  # one result row in memory: pandas columns, JSON line, CSV/Parquet buffers
SCAN_ROW_BYTES = 2048  # one metastable-scan row kept as a Python dict of ~15 values for resume
CACHE_BYTES = 1 << 30  # capacity-sweep keeps at most this much of generated patterns across cells


@dataclass(frozen=True)
class Term:
    """One array of the estimate: the field that sets its size, its bytes and how it reads."""

    field: str
    bytes: int
    what: str


def check_device(cfg: Any) -> None:
    """The device exists and the dtype may run on it (half precisions are CUDA only)."""
    from hopfield_cli.core.device import resolve_device, resolve_dtype

    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise UsageError("device", str(exc)) from None
    try:
        resolve_dtype(cfg.dtype, device)
    except ValueError as exc:
        raise UsageError("dtype", str(exc)) from None


def _size_field(n_field: str, n: int, d: int) -> str:
    """The field to name for an N x d array: the larger factor (a typo makes one factor huge)."""
    return n_field if n >= d else "dim"


def _patterns(n_field: str, n: int, d: int, per: int, what: str) -> Term:
    return Term(_size_field(n_field, n, d), n * d * per, f"{n:,} x {d:,} {what}")


def _model_terms(model: str, n: int, d: int, b: int, elem: int, n_field: str) -> list[Term]:
    """What a model family holds beyond patterns and queries (core/*.py)."""
    if model == "modern":  # streamed: the score block is capped by memory_budget, so only states count
        return [Term("num_queries", b * d * (2 * elem + 3 * max(elem, 4)), f"{b:,} x {d:,} states")]
    if model == "classical":
        if n > d:  # the Hebbian weights d x d (core/classical.py _hebbian)
            return [Term("dim", d * d * elem, f"{d:,} x {d:,} Hebbian weights")]
        return [Term("num_queries" if b >= n else n_field, b * n * elem, f"{b:,} x {n:,} overlaps")]
    copies = (
        4 if model == "sparse" else 2
    )  # sparse sorts the scores; dense/exponential keep scores + F(scores)
    field = "num_queries" if b >= n else n_field
    return [Term(field, copies * b * n * elem, f"{b:,} x {n:,} scores ({model})")]


def _elem(cfg: Any) -> int:
    return 8 if cfg.dtype == "float64" else 4


def _generated(cfg: Any) -> bool:
    return cfg.patterns.source not in ("file", "images") and getattr(cfg, "memory", None) is None


def _store(cfg: Any) -> list[Term]:
    if not _generated(cfg):
        return []
    n, d = int(cfg.num_patterns), int(cfg.dim)
    return [
        _patterns("num_patterns", n, d, 4 + GENERATE_BYTES + STATS_BYTES, "patterns, drawn and summarised")
    ]


def _retrieve(cfg: Any) -> list[Term]:
    if not _generated(cfg):
        # N is the file's; the queries still scale with num_queries (memory rows are reused)
        b = int(cfg.num_queries) if cfg.num_queries is not None else 0
        return [Term("num_queries", b * ROW_BYTES, f"{b:,} result rows")] if b else []
    n, d, elem = int(cfg.num_patterns), int(cfg.dim), _elem(cfg)
    b = int(cfg.num_queries) if cfg.num_queries is not None else min(n, 1000)
    terms = [
        _patterns("num_patterns", n, d, elem + GENERATE_BYTES, "patterns"),
        Term(
            "num_queries", b * d * 4 * 3 + b * (int(cfg.update_steps_max) + 1) * 8, f"{b:,} x {d:,} queries"
        ),
        Term("num_queries", b * ROW_BYTES, f"{b:,} result rows"),
    ]
    return terms + _model_terms(str(cfg.model.name), n, d, b, elem, "num_patterns")


def _capacity_sweep(cfg: Any) -> list[Term]:
    if not _generated(cfg):
        return []
    from hopfield_cli.experiments.capacity_sweep import BLOCK_ROWS

    n, elem, b = int(cfg.n_max), _elem(cfg), int(cfg.num_queries)
    dims = [int(x) for x in (cfg.dims or [cfg.dim])]
    worst: list[Term] = []
    for d in dims:  # the cells of one d at a time: the largest d decides
        dim_field = "dims" if cfg.dims else "dim"
        cache = min(CACHE_BYTES, int(cfg.trials) * n * d * 4)
        prefix = Term(
            "n_max" if n >= d else dim_field,
            n * d * (2 * elem + 4) + cache,
            f"{n:,} x {d:,} patterns (N = n_max)",
        )
        # patterns are drawn in blocks of BLOCK_ROWS rows whatever n_max is (capacity_sweep.PatternBank)
        block = Term(
            dim_field, BLOCK_ROWS * d * GENERATE_BYTES, f"{BLOCK_ROWS:,} x {d:,} block of drawn patterns"
        )
        queries = Term("num_queries", b * d * 4 * 5, f"{b:,} x {d:,} queries")
        terms = [prefix, block, queries]
        for model in dict.fromkeys(cfg.models):
            terms += [
                Term(
                    "n_max" if t.field == "n_max" else (dim_field if t.field == "dim" else t.field),
                    t.bytes,
                    t.what,
                )
                for t in _model_terms(str(model), n, d, b, elem, "n_max")
            ]
        if sum(t.bytes for t in terms) > sum(t.bytes for t in worst):
            worst = terms
    return worst


def _metastable_scan(cfg: Any) -> list[Term]:
    if cfg.attention is not None:
        return []
    b, elem = int(cfg.num_queries), _elem(cfg)
    rows = Term(
        "num_queries",
        b * int(cfg.num_betas) * SCAN_ROW_BYTES,
        f"{b:,} queries x {int(cfg.num_betas)} betas of result rows",
    )
    if not _generated(cfg):
        return [rows]
    n, d = int(cfg.num_patterns), int(cfg.dim)
    return [
        _patterns("num_patterns", n, d, elem + GENERATE_BYTES + 2 * STATS_BYTES, "patterns"),
        Term("num_queries", b * d * (2 * elem + 3 * 8), f"{b:,} x {d:,} queries"),
        rows,
    ]


ESTIMATES = {
    "store": _store,
    "retrieve": _retrieve,
    "capacity-sweep": _capacity_sweep,
    "metastable-scan": _metastable_scan,
}


def estimate(command: str, cfg: Any) -> list[Term]:
    """The largest arrays of a run of ``command`` with ``cfg``, in bytes (an estimate, not a bound)."""
    return ESTIMATES[command](cfg)


def check_memory(command: str, cfg: Any, available: int | None = None) -> None:
    """Refuse a run whose estimate exceeds the free memory, naming the field of its largest array."""
    terms = estimate(command, cfg)
    if not terms:
        return
    if available is None:
        from hopfield_cli.core.streaming import available_memory

        available = available_memory("cpu")
    need = sum(t.bytes for t in terms)
    if need <= available:
        return
    top = max(terms, key=lambda t: t.bytes)
    raise CapacityError(
        top.field,
        f"this run needs about {need / GIB:,.3g} GiB of memory ({top.what}: {top.bytes / GIB:,.3g} GiB) "
        f"but {available / GIB:,.3g} GiB is available; lower {top.field}",
    )


def check_budget(command: str, cfg: Any) -> None:
    """A memory_budget too small for even one score block of the modern network (core/streaming.plan_chunks)."""
    from hopfield_cli.config import parse_bytes
    from hopfield_cli.core.streaming import plan_chunks

    budget = parse_bytes(getattr(cfg, "memory_budget", None))
    if budget is None or (command == "metastable-scan" and cfg.attention is not None):
        return
    uses_modern = {
        "store": False,
        "retrieve": command == "retrieve" and cfg.model.name == "modern",
        "capacity-sweep": command == "capacity-sweep" and "modern" in cfg.models,
        "metastable-scan": True,
    }[command]
    if not uses_modern:
        return
    n = int(getattr(cfg, "num_patterns", None) or getattr(cfg, "n_max", 1)) if _generated(cfg) else 1
    plan_chunks(n, 1, memory_budget=budget)  # raises CapacityError("memory_budget", ...)


def check_resources(command: str, cfg: Any) -> None:
    """Device, dtype, memory_budget and memory: the checks of a valid config that need torch."""
    check_device(cfg)
    check_budget(command, cfg)
    check_memory(command, cfg)
