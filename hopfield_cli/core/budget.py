"""Memory planning for the softmax pass (``streaming``): free memory, the score-block budget, chunk sizes.

One pass of Eq. 3 holds one (query_chunk, pattern_chunk) score block at a time. ``plan_chunks`` sizes that block
to a byte budget; ``resolve_budget`` turns ``memory_budget=None`` into a default read ONCE from the memory free
on the device; ``estimate_memory`` checks, before anything is allocated, that a whole retrieval fits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from hopfield_cli.core.errors import BudgetError
from hopfield_cli.core.streaming import acc_dtype, is_half

GIB = 1024**3
MIB = 1024**2
DEFAULT_K90_CAP = 1024
QUERY_CHUNK = 256  # 256 query rows x N=1e4 float32 scores stay fast on small CPUs (measured in benchmarks/)
MIN_PATTERN_CHUNK = 1024
PROC_CGROUP = "/proc/self/cgroup"  # this process's cgroups
CGROUP_ROOT = "/sys/fs/cgroup"  # where they are mounted


def available_memory(device: torch.device | str = "cpu") -> int:
    """Bytes free to allocate now: on CPUs the least of MemAvailable, the address space ``ulimit -v`` leaves
    and the cgroup's memory limit (a container's, a SLURM job's); free device memory on CUDA."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return cpu_memory()[0]


_pinned: list[tuple[int, str]] = []


@contextmanager
def memory_pinned() -> Iterator[None]:
    """Read the free memory once for a block of checks (a sweep's thousands of jobs), not once per check."""
    _pinned.append(cpu_memory())
    try:
        yield
    finally:
        _pinned.pop()


def cpu_memory() -> tuple[int, str]:
    """(bytes free to this process, what limits it: "free memory", "ulimit -v" or "the cgroup's memory.max")."""
    if _pinned:
        return _pinned[-1]
    found = [(_mem_available(), "free memory")]
    address_space = _address_space_left()
    if address_space is not None:
        found.append((address_space, "ulimit -v"))
    cgroup = _cgroup_left()
    if cgroup is not None:
        found.append(cgroup)
    return min(found, key=lambda f: f[0])


def _mem_available() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def _status_bytes(field: str) -> int | None:
    """A ``/proc/self/status`` size (``VmSize``) in bytes."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(f"{field}:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> int | None:
    """RLIMIT_AS (``ulimit -v``) less the address space this process already maps; None when unlimited."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return None
    return max(soft - (_status_bytes("VmSize") or 0), 0)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _cgroup_left() -> tuple[int, str] | None:
    """The cgroup's memory limit less what it uses (its reclaimable page cache counted as free)."""
    try:
        with open(PROC_CGROUP) as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":  # cgroup v2
            root = CGROUP_ROOT
            files = ("memory.max", "memory.current", "memory.stat", "inactive_file")
        elif "memory" in parts[1].split(","):  # cgroup v1
            root = f"{CGROUP_ROOT}/memory"
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "memory.stat", "total_inactive_file")
        else:
            continue
        # The process's own cgroup, or (in a container, which sees its cgroup as the root) the mount's root.
        for folder in (root + parts[2].rstrip("/"), root):
            limit, used = _read_int(f"{folder}/{files[0]}"), _read_int(f"{folder}/{files[1]}")
            if limit is None or used is None or limit >= 1 << 60:  # v1 says "no limit" with a huge number
                continue
            return max(limit - used + _stat_value(f"{folder}/{files[2]}", files[3]), 0), (
                f"the cgroup's {files[0]}"
            )
    return None


def _stat_value(path: str, key: str) -> int:
    try:
        with open(path) as fh:
            for line in fh:
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
    except (OSError, ValueError):
        pass
    return 0


def default_memory_budget(device: torch.device | str = "cpu", *, free: int | None = None) -> int:
    """Budget for temporary score blocks: min(512 MiB, 1/8 of free RAM) on CPU, 1/4 of free memory on CUDA.

    ``free``: bytes free on ``device`` if already read (None: read now with ``available_memory``).
    """
    device = torch.device(device)
    free = available_memory(device) if free is None else int(free)
    if device.type == "cuda":
        return max(free // 4, 16 * MIB)
    return max(min(512 * MIB, free // 8), 16 * MIB)


def resolve_budget(memory_budget: int | None, device: torch.device | str, *, free: int | None = None) -> int:
    """The byte budget of one call: ``memory_budget`` itself, or the default computed once from free memory.

    Resolve it once at the start of a call and plan with it, so the chunk plan cannot change mid-run.
    """
    if memory_budget is not None:
        return int(memory_budget)
    return default_memory_budget(device, free=free)


def block_bytes_per_element(dtype: torch.dtype, with_stats: bool) -> int:
    """Bytes one score element costs in a block: the float buffer, a half copy, and sort/top-k scratch."""
    per = torch.tensor([], dtype=acc_dtype(dtype)).element_size()
    if is_half(dtype):
        per += 2
    if with_stats:
        per += 3 * per + 8  # sorted values, cumulative sums, a mask and int64 indices from sort/topk
    return per


@dataclass(frozen=True)
class ChunkPlan:
    """How a pass is cut: query rows per chunk, pattern rows per chunk and the bytes of one block.

    A pass over fewer queries than planned for uses the same chunk sizes (its last query chunk is shorter).
    """

    query_chunk: int
    pattern_chunk: int
    block_bytes: int

    def streams(self, n_patterns: int) -> bool:
        """Whether patterns are split (then k90 is capped)."""
        return self.pattern_chunk < n_patterns


def plan_chunks(
    n_patterns: int,
    n_queries: int,
    *,
    dtype: torch.dtype = torch.float32,
    memory_budget: int,
    with_stats: bool = True,
    k90_cap: int = DEFAULT_K90_CAP,
    query_chunk: int | None = None,
    pattern_chunk: int | None = None,
) -> ChunkPlan:
    """Pick chunk sizes so that one block fits ``memory_budget``; explicit overrides win (for tests).

    Prefers all N patterns in one block (exact k90, no rescaling) with up to 256 query rows; otherwise streams
    patterns in chunks of at least 1024 rows (fewer query rows if needed). Raises BudgetError when not even one
    query row against one pattern chunk fits.
    """
    n_patterns, n_queries = max(int(n_patterns), 1), max(int(n_queries), 1)
    per = block_bytes_per_element(dtype, with_stats)
    cap = min(k90_cap, n_patterns)

    def cost(qc: int, pc: int) -> int:
        topk = 2 * cap * qc * (per + 8) if (with_stats and pc < n_patterns) else 0
        return qc * pc * per + topk

    if query_chunk is not None or pattern_chunk is not None:
        qc = max(1, min(int(query_chunk or QUERY_CHUNK), n_queries))
        pc = max(1, min(int(pattern_chunk or n_patterns), n_patterns))
        return ChunkPlan(qc, pc, cost(qc, pc))
    qc = min(n_queries, max(QUERY_CHUNK, (1 << 21) // n_patterns))
    if cost(qc, n_patterns) <= memory_budget:
        return ChunkPlan(qc, n_patterns, cost(qc, n_patterns))
    qc = min(n_queries, QUERY_CHUNK)
    pc_min = min(MIN_PATTERN_CHUNK, n_patterns)
    while qc > 1 and cost(qc, pc_min) > memory_budget:
        qc //= 2
    if cost(qc, pc_min) > memory_budget:
        pc_min = 1
    if cost(qc, pc_min) > memory_budget:
        need = cost(1, 1)
        raise BudgetError(
            "memory_budget",
            f"the smallest score block needs {need / GIB:.3g} GiB, budget {memory_budget / GIB:.3g} GiB; "
            "raise memory_budget or lower k90_cap",
        )
    fixed = cost(qc, 0)
    pc = max(pc_min, min(n_patterns - 1, (memory_budget - fixed) // (qc * per)))
    return ChunkPlan(qc, pc, cost(qc, pc))


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a retrieval needs, computed before anything is allocated."""

    patterns_bytes: int
    working_bytes: int  # states, energies and per-query accumulators
    block_bytes: int  # one score block, as planned
    available_bytes: int
    plan: ChunkPlan

    @property
    def total_bytes(self) -> int:
        return self.patterns_bytes + self.working_bytes + self.block_bytes


def estimate_memory(
    n_patterns: int,
    n_queries: int,
    dim: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    memory_budget: int | None = None,
    update_steps_max: int = 1,
    patterns_allocated: bool = False,
    k90_cap: int = DEFAULT_K90_CAP,
    free: int | None = None,
    plan: ChunkPlan | None = None,
) -> MemoryEstimate:
    """Estimate a retrieval's memory and raise BudgetError("memory_budget", ...) when it cannot fit.

    Counts the patterns (unless ``patterns_allocated``: they are already in memory and not counted against what
    is free), about five (B, d) copies of the states, the (B, T + 1) energies, and one score block. Raises when
    the total exceeds the memory free on ``device`` even with the smallest chunking.

    ``free``: bytes free on ``device`` if the caller already read them (None: read here, once; the default
    budget is then computed from the same reading). ``plan``: the chunk plan the run will use (None: planned
    here from the budget, with statistics).
    """
    device = torch.device(device)
    free = available_memory(device) if free is None else int(free)
    budget = resolve_budget(memory_budget, device, free=free)
    elem = torch.tensor([], dtype=dtype).element_size()
    acc = torch.tensor([], dtype=acc_dtype(dtype)).element_size()
    patterns_bytes = n_patterns * dim * elem
    working = (
        n_queries * dim * (2 * elem + 3 * acc) + n_queries * (update_steps_max + 1) * acc + 64 * n_queries
    )
    if plan is None:
        plan = plan_chunks(n_patterns, n_queries, dtype=dtype, memory_budget=budget, k90_cap=k90_cap)
    est = MemoryEstimate(0 if patterns_allocated else patterns_bytes, working, plan.block_bytes, free, plan)
    if est.total_bytes > free:
        raise BudgetError(
            "memory_budget",
            f"retrieving {n_queries} queries from {n_patterns} patterns of dim {dim} ({dtype}) needs "
            f"{est.total_bytes / GIB:.3g} GiB (patterns {patterns_bytes / GIB:.3g} GiB), budget "
            f"{budget / GIB:.3g} GiB, but only {free / GIB:.3g} GiB is free on {device}",
        )
    return est
