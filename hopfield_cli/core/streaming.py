"""The scale engine: one softmax pass p = softmax(beta X^T xi) without holding the (B, N) score matrix.

One pass (Eq. 3 of Ramsauer et al. 2021) computes, per query xi, the new state X p, the centred log-sum-exp
``lse(beta, X^T xi) - beta^-1 log N`` that the energy (Eq. 2) needs, and optionally the final-state diagnostics
max_i p_i and k90. Queries are cut into chunks of ``query_chunk`` rows and patterns into chunks of
``pattern_chunk`` rows. Over pattern chunks the pass keeps a running maximum m, the running sum of exp(s - m)
and the running weighted sum of patterns, rescaling both by exp(m_old - m_new) when the maximum grows (the
online softmax behind flash attention). Only one (query_chunk, pattern_chunk) float block is alive at a time, and
``plan_chunks`` sizes it to ``memory_budget``.

k90: when all N patterns fit in one block the weights of a query are all at hand and k90 is exact
(``fixed_points.k90``). When patterns are streamed, a running top-K of each query's weights is kept (merged with
torch.topk per chunk); k90 is then exact whenever k90 <= K, and queries whose top K weights do not reach 0.9 of
the mass report K. The pass then returns ``k90_cap = K`` (RetrievalResult.k90_cap).

Precision: scores, maxima, sums and the weighted sum are float32 (float64 for float64 input). Half inputs
(bfloat16/float16) do both matrix products in the half dtype and everything else in float32; float16 products
overflow beyond |x^T xi| > 65504, so use bfloat16 for large norms. When every |beta x^T xi| <= 1/2 (tiny beta)
the pass uses no shift and accumulates expm1(beta x^T xi), so that lse - beta^-1 log N = beta^-1 log1p(mean expm1)
keeps full relative accuracy instead of cancelling.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

from hopfield_cli.core.fixed_points import MASS, reach_tolerance
from hopfield_cli.core.fixed_points import k90 as exact_k90
from hopfield_cli.errors import CapacityError

GIB = 1024**3
MIB = 1024**2
DEFAULT_K90_CAP = 1024
QUERY_CHUNK = 256  # 256 query rows x N=1e4 float32 scores stay fast on small CPUs (measured in benchmarks/)
MIN_PATTERN_CHUNK = 1024
SMALL_SCORE = 0.5  # |beta x^T xi| bound under which the expm1 branch is used


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """Accumulation dtype: float64 for float64 input, float32 for everything else."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _is_half(dtype: torch.dtype) -> bool:
    return dtype in (torch.bfloat16, torch.float16)


def block_bytes_per_element(dtype: torch.dtype, with_stats: bool) -> int:
    """Bytes one score element costs in a block: the float buffer, a half copy, and sort/top-k scratch."""
    per = torch.tensor([], dtype=acc_dtype(dtype)).element_size()
    if _is_half(dtype):
        per += 2
    if with_stats:
        per += 3 * per + 8  # sorted values, cumulative sums, a mask and int64 indices from sort/topk
    return per


def available_memory(device: torch.device | str = "cpu") -> int:
    """Bytes free to allocate now: MemAvailable on Linux CPUs, free device memory on CUDA."""
    device = torch.device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


def default_memory_budget(device: torch.device | str = "cpu") -> int:
    """Budget for temporary score blocks: min(512 MiB, 1/8 of free RAM) on CPU, 1/4 of free memory on CUDA."""
    device = torch.device(device)
    free = available_memory(device)
    if device.type == "cuda":
        return max(free // 4, 16 * MIB)
    return max(min(512 * MIB, free // 8), 16 * MIB)


@dataclass(frozen=True)
class ChunkPlan:
    """How a pass is cut: query rows per chunk, pattern rows per chunk and the bytes of one block."""

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
    patterns in chunks of at least 1024 rows (fewer query rows if needed). Raises CapacityError when not even one
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
        raise CapacityError(
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
) -> MemoryEstimate:
    """Estimate a retrieval's memory and raise CapacityError("memory_budget", ...) when it cannot fit.

    Counts the patterns (unless ``patterns_allocated``: they are already in memory and not counted against what
    is free), about five (B, d) copies of the states, the (B, T + 1) energies, and one score block. Raises when
    the total exceeds the memory free on ``device`` even with the smallest chunking.
    """
    device = torch.device(device)
    budget = default_memory_budget(device) if memory_budget is None else int(memory_budget)
    elem = torch.tensor([], dtype=dtype).element_size()
    acc = torch.tensor([], dtype=acc_dtype(dtype)).element_size()
    patterns_bytes = n_patterns * dim * elem
    working = (
        n_queries * dim * (2 * elem + 3 * acc) + n_queries * (update_steps_max + 1) * acc + 64 * n_queries
    )
    plan = plan_chunks(n_patterns, n_queries, dtype=dtype, memory_budget=budget, k90_cap=k90_cap)
    free = available_memory(device)
    est = MemoryEstimate(0 if patterns_allocated else patterns_bytes, working, plan.block_bytes, free, plan)
    if est.total_bytes > free:
        raise CapacityError(
            "memory_budget",
            f"retrieving {n_queries} queries from {n_patterns} patterns of dim {dim} ({dtype}) needs "
            f"{est.total_bytes / GIB:.3g} GiB (patterns {patterns_bytes / GIB:.3g} GiB), budget "
            f"{budget / GIB:.3g} GiB, but only {free / GIB:.3g} GiB is free on {device}",
        )
    return est


def max_norm(patterns: torch.Tensor, chunk: int = 1 << 16) -> float:
    """M = max_i ||x_i||, computed in chunks so no (N, d) temporary is made."""
    best = 0.0
    for start in range(0, patterns.shape[0], chunk):
        part = torch.linalg.vector_norm(
            patterns[start : start + chunk], dim=1, dtype=acc_dtype(patterns.dtype)
        )
        best = max(best, float(part.max()))
    return best


def pattern_sum(patterns: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """sum_i x_i in the accumulation dtype, (d,)."""
    total = torch.zeros(patterns.shape[1], dtype=acc_dtype(patterns.dtype), device=patterns.device)
    for start in range(0, patterns.shape[0], chunk):
        total += patterns[start : start + chunk].sum(dim=0, dtype=total.dtype)
    return total


@dataclass
class PassResult:
    """Per-query outputs of one softmax pass."""

    states: torch.Tensor | None  # (B, d) X p in the input dtype, or None
    lse_centered: torch.Tensor  # (B,) lse(beta, X^T xi) - beta^-1 log N, accumulation dtype
    max_weight: torch.Tensor | None = None  # (B,)
    k90: torch.Tensor | None = None  # (B,) int64
    k90_cap: int | None = None


def softmax_pass(
    patterns: torch.Tensor,  # (N, d)
    queries: torch.Tensor,  # (B, d)
    beta: float,
    *,
    plan: ChunkPlan,
    with_states: bool = True,
    with_stats: bool = False,
    k90_cap: int = DEFAULT_K90_CAP,
    pattern_norm_max: float | None = None,
) -> PassResult:
    """One pass of p = softmax(beta X^T xi) for every query (Eq. 3), chunked as ``plan`` says."""
    n, d = patterns.shape
    b = queries.shape[0]
    dev, dt = patterns.device, patterns.dtype
    acc = acc_dtype(dt)
    half = _is_half(dt)
    qc, pc = min(plan.query_chunk, max(b, 1)), min(plan.pattern_chunk, n)
    streams = pc < n
    cap = min(k90_cap, n)
    big_m = max_norm(patterns) if pattern_norm_max is None else pattern_norm_max
    q_norms = torch.linalg.vector_norm(queries, dim=1, dtype=acc) if b else None

    states = torch.empty(b, d, dtype=dt, device=dev) if with_states else None
    lse = torch.empty(b, dtype=acc, device=dev)
    max_w = torch.empty(b, dtype=acc, device=dev) if with_stats else None
    k90s = torch.empty(b, dtype=torch.int64, device=dev) if with_stats else None
    buf = torch.empty(qc * pc, dtype=acc, device=dev)
    hbuf = torch.empty(qc * pc, dtype=dt, device=dev) if half else None
    xsum = None
    log_n = math.log(n)
    exp_floor = math.log(torch.finfo(acc).tiny) + 1.0  # shifted scores below this count as 0 weight
    exp_zero_below = math.exp(exp_floor) * 1.5

    for q0 in range(0, b, qc):
        q = queries[q0 : q0 + qc]
        bq = q.shape[0]
        small = beta * float(q_norms[q0 : q0 + qc].max()) * big_m <= SMALL_SCORE
        qb = q if half else q.to(acc) * beta  # half: beta is applied in float32 after the product
        m = s = out = top = None
        for p0 in range(0, n, pc):
            xc = patterns[p0 : p0 + pc]
            nc = xc.shape[0]
            block = buf[: bq * nc].view(bq, nc)  # (bq, nc)
            if half:
                hblock = hbuf[: bq * nc].view(bq, nc)
                torch.mm(qb, xc.T, out=hblock)
                block.copy_(hblock).mul_(beta)
            else:
                torch.mm(qb, xc.T, out=block)
            if small:
                block.expm1_()  # |scores| <= 1/2: no shift needed, keep exp(s) - 1 for accuracy
                alpha = None
            else:
                cmax = block.amax(dim=1)
                if m is None:
                    m_new, alpha = cmax, None
                else:
                    m_new = torch.maximum(m, cmax)
                    alpha = (m - m_new).exp_()  # (bq,)
                # exp of a shifted score below log(tiny) is subnormal or 0, which x86 computes 10-40x
                # slower than a normal result. Clamp those scores, take exp, then zero them exactly (as
                # float32 underflow would): the partition sum changes by < N * e * tiny against a largest
                # term of 1, and no subnormal reaches the later products.
                block.sub_(m_new[:, None]).clamp_min_(exp_floor)
                torch.nn.functional.threshold_(block.exp_(), exp_zero_below, 0.0)
                m = m_new
            part = block.sum(dim=1)
            if s is None:
                s = part
            else:
                if alpha is not None:
                    s.mul_(alpha)
                s.add_(part)
            if with_states:
                if half:
                    hblock.copy_(block)
                    prod = torch.mm(hblock, xc).to(acc)
                    if out is None:
                        out = prod
                    else:
                        if alpha is not None:
                            out.mul_(alpha[:, None])
                        out.add_(prod)
                elif out is None:
                    out = torch.mm(block, xc)
                else:
                    if alpha is not None:
                        out.mul_(alpha[:, None])
                    out.addmm_(block, xc)
            if with_stats and streams:
                if small:
                    block.add_(1.0)  # weights relative to exp(0)
                vals = torch.topk(block, min(cap, nc), dim=1, sorted=False).values
                if top is None:
                    top = vals
                else:
                    if alpha is not None:
                        top.mul_(alpha[:, None])
                    top = torch.topk(
                        torch.cat([top, vals], dim=1), min(cap, top.shape[1] + vals.shape[1]), dim=1
                    ).values
        rows = slice(q0, q0 + bq)
        if small:
            if xsum is None:
                xsum = pattern_sum(patterns)
            denom = s + n  # sum_i exp(s_i)
            lse[rows] = torch.log1p(s / n) / beta
            if with_states:
                states[rows] = ((out + xsum) / denom[:, None]).to(dt)
        else:
            denom = s  # sum_i exp(s_i - m)
            lse[rows] = m / beta + (torch.log(s) - log_n) / beta
            if with_states:
                states[rows] = (out / denom[:, None]).to(dt)
        if with_stats:
            if streams:
                topn = top / denom[:, None]
                max_w[rows] = topn.amax(dim=1)
                csum = torch.sort(topn, dim=1, descending=True).values.cumsum(dim=1)
                below = (csum < MASS * (1.0 - reach_tolerance(acc))).sum(dim=1)
                k90s[rows] = torch.where(below < csum.shape[1], below + 1, torch.full_like(below, cap))
            else:
                if small:
                    block.add_(1.0)
                max_w[rows] = block.amax(dim=1) / denom
                k90s[rows] = exact_k90(block)
    return PassResult(
        states=states,
        lse_centered=lse,
        max_weight=max_w,
        k90=k90s,
        k90_cap=cap if (with_stats and streams and cap < n) else None,
    )
