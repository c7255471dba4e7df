"""The scale engine: one softmax pass p = softmax(beta X^T xi) without holding the (B, N) score matrix.

One pass (Eq. 3 of Ramsauer et al. 2021) computes, per query xi, the new state X p, the centred log-sum-exp
``lse(beta, X^T xi) - beta^-1 log N`` that the energy (Eq. 2) needs, and optionally the final-state diagnostics
max_i p_i and k90. Queries are cut into chunks of ``query_chunk`` rows and patterns into chunks of
``pattern_chunk`` rows. Over pattern chunks the pass keeps a running maximum m, the running sum of exp(s - m)
and the running weighted sum of patterns, rescaling both by exp(m_old - m_new) when the maximum grows (the
online softmax behind flash attention). Only one (query_chunk, pattern_chunk) float block is alive at a time;
``budget.plan_chunks`` sizes it to a memory budget (this module only computes, it plans nothing).

k90: when all N patterns fit in one block the weights of a query are all at hand and k90 is exact
(``fixed_points.k90``). When patterns are streamed, a running top-K of each query's weights is kept (merged with
torch.topk per chunk); k90 is then exact whenever k90 <= K, and queries whose top K weights do not reach 0.9 of
the mass report K. The pass then returns ``k90_cap = K`` (RetrievalResult.k90_cap).

Precision: scores, maxima, sums and the weighted sum are float32 (float64 for float64 input). Half inputs
(bfloat16/float16) do both matrix products in the half dtype and everything else in float32; float16 products
overflow beyond |x^T xi| > 65504, so use bfloat16 for large norms. When every |beta x^T xi| <= 1/2 (tiny beta)
the pass uses no shift and accumulates expm1(beta x^T xi), so that lse - beta^-1 log N = beta^-1 log1p(mean expm1)
keeps full relative accuracy instead of cancelling; once every |beta x^T xi| is below the dtype's rounding (where
beta x^T xi itself would turn subnormal) it is the limit mean_i x_i^T xi, exact to that rounding. Norms and betas
that would overflow are brought into range by the caller (``scaling``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from hopfield_cli.core import tail_pass
from hopfield_cli.core.fixed_points import MASS, reach_tolerance
from hopfield_cli.core.fixed_points import k90 as exact_k90
from hopfield_cli.core.online_softmax import Partial, fold, merge, weight_floor  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from hopfield_cli.core.budget import ChunkPlan

SMALL_SCORE = 0.5  # |beta x^T xi| bound under which the expm1 branch is used


def acc_dtype(dtype: torch.dtype) -> torch.dtype:
    """Accumulation dtype: float64 for float64 input, float32 for everything else."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def is_half(dtype: torch.dtype) -> bool:
    """Whether ``dtype`` is a half precision (bfloat16/float16): products in it, the rest in float32."""
    return dtype in (torch.bfloat16, torch.float16)


def max_norm(patterns: torch.Tensor, chunk: int = 1 << 16) -> float:
    """M = max_i ||x_i||, computed in chunks so no (N, d) temporary is made.

    A chunk whose squared norms overflow or underflow the accumulation dtype (entries beyond ~1e19 or below
    ~1e-16 in float32) is measured again scaled by its largest entry, so M is exact for every finite input.
    """
    if not isinstance(patterns, torch.Tensor):  # a source drawn on demand (``pattern_bank.DrawnPatterns``)
        return float(patterns.max_norm())
    best = 0.0
    for start in range(0, patterns.shape[0], chunk):
        rows = patterns[start : start + chunk].detach()
        acc = acc_dtype(patterns.dtype)
        part = float(torch.linalg.vector_norm(rows, dim=1, dtype=acc).max())
        if not part * part >= torch.finfo(acc).tiny * 2.0**24 or not math.isfinite(part):
            part = _scaled_max_norm(rows)  # squares that overflow, or underflow to 0
        best = max(best, part)
    return best


def _scaled_max_norm(rows: torch.Tensor) -> float:
    """max ||row|| as amax * max ||row / amax|| in float64: no square over- or underflows."""
    if rows.numel() == 0:
        return 0.0
    amax = float(rows.abs().max())
    if amax == 0.0 or not math.isfinite(amax):
        return amax
    step = max(1, (1 << 22) // max(rows.shape[1], 1))  # float64 copies of at most 32 MiB
    return amax * max(
        float(torch.linalg.vector_norm(rows[i : i + step].double() / amax, dim=1).max())
        for i in range(0, rows.shape[0], step)
    )


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


def range_partial(
    patterns: torch.Tensor, queries: torch.Tensor, beta: float, *, plan: ChunkPlan, with_states: bool = True
) -> Partial:
    """The partial (m, s, o) of all rows of ``patterns`` (one range) for every query, in the accumulation dtype.

    Computed by ``softmax_pass`` (so on the fast path where it applies): m = the range's log-sum-exp, s = 1,
    o = the range's normalised state. Every range of N's pattern blocks gives the same partial in any process.
    """
    res = softmax_pass(patterns, queries, beta, plan=plan, with_states=with_states, k90_cap=1)
    acc = res.lse_centered.dtype
    m = (res.lse_centered * beta + math.log(patterns.shape[0])).to(acc)
    o = None if res.states is None else res.states.to(acc)
    return Partial(m, torch.ones_like(m), o)


def finish(total: Partial, beta: float, n: int, dtype: torch.dtype) -> PassResult:
    """A ``PassResult`` (states in ``dtype``, centred lse) from the merged partial of all n patterns."""
    lse = total.m / beta + (torch.log(total.s) - math.log(n)) / beta
    states = None if total.o is None else (total.o / total.s[:, None]).to(dtype)
    return PassResult(states=states, lse_centered=lse)


def fused_available(dtype: torch.dtype, device: torch.device) -> bool:
    """Whether torch's fused CPU attention kernel (scores, exp and both products per tile, with the
    log-sum-exp) serves a pass in ``dtype`` on ``device``: float32/bfloat16/float16 on the CPU."""
    return (
        FUSED
        and device.type == "cpu"
        and dtype in (torch.float32, torch.bfloat16, torch.float16)
        and hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu")
    )


FUSED = True  # tests switch the fused path off to compare it with the chunked kernel
FUSED_CHUNK = 1 << 18  # pattern rows per fused call: the tiles are the kernel's own, this bounds nothing else


def _fused_partial(
    patterns: torch.Tensor, q: torch.Tensor, beta: float, pc: int, with_states: bool, start: int = 0
) -> Partial:
    """The online softmax of queries ``q`` over patterns [start, N) with the fused CPU kernel, merged over
    pattern chunks of ``pc`` rows: m = each chunk's log-sum-exp, s = 1, o = its normalised state."""
    n = patterns.shape[0]
    total = None
    op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    for p0 in range(start, n, pc):
        xc = patterns[p0 : p0 + pc]
        kv = xc.contiguous()[None, None]
        out, lse = op(q.contiguous()[None, None], kv, kv, scale=beta)[:2]
        lse = lse.reshape(-1).float()
        total = merge(total, Partial(lse, torch.ones_like(lse), out[0, 0].float() if with_states else None))
    return total


def softmax_pass(
    patterns: torch.Tensor,  # (N, d)
    queries: torch.Tensor,  # (B, d)
    beta: float,
    *,
    plan: ChunkPlan,
    with_states: bool = True,
    with_stats: bool = False,
    k90_cap: int,
    pattern_norm_max: float | None = None,
) -> PassResult:
    """One pass of p = softmax(beta X^T xi) for every query (Eq. 3), chunked as ``plan`` says."""
    n, d = patterns.shape
    b = queries.shape[0]
    dev, dt = patterns.device, patterns.dtype
    acc = acc_dtype(dt)
    half = is_half(dt)
    qc, pc = min(plan.query_chunk, max(b, 1)), min(plan.pattern_chunk, n)
    pc = min(pc, getattr(patterns, "chunk_rows", pc))  # a drawn source: only its blocks in flight
    streams = pc < n
    cap = min(k90_cap, n)
    big_m = max_norm(patterns) if pattern_norm_max is None else pattern_norm_max
    q_norms = torch.linalg.vector_norm(queries, dim=1, dtype=acc) if b else None

    states = torch.empty(b, d, dtype=dt, device=dev) if with_states else None
    lse = torch.empty(b, dtype=acc, device=dev)
    max_w = torch.empty(b, dtype=acc, device=dev) if with_stats else None
    k90s = torch.empty(b, dtype=torch.int64, device=dev) if with_stats else None
    fast = not with_stats and (tail_pass.available(dt, dev) or fused_available(dt, dev))
    if fast and b and beta * float(q_norms.min()) * big_m > SMALL_SCORE:
        # no query chunk can be small, so every one takes a fast path, which holds no (qc, pc) block: more
        # queries per call make their products faster (a small chunk keeps the plan's size: its block)
        qc = max(qc, min(b, tail_pass.QUERY_ROWS))
    buf = hbuf = None  # the chunked kernel's (qc, pc) score block, made when a query chunk first needs it
    xsum = None
    log_n = math.log(n)
    exp_floor = weight_floor(acc)  # shifted scores below this count as 0 weight
    exp_zero_below = math.exp(exp_floor) * 1.5

    for q0 in range(0, b, qc):
        q = queries[q0 : q0 + qc]
        bq = q.shape[0]
        largest_score = beta * float(q_norms[q0 : q0 + qc].max()) * big_m
        small = largest_score <= SMALL_SCORE
        linear = largest_score <= torch.finfo(acc).eps
        if fast and not small:
            # the fast paths: the sparse tail (only the weights above the floor are multiplied) and/or the
            # fused kernel (one read of each score tile, no (qc, pc) block in memory)
            total, start = None, 0
            if tail_pass.available(dt, dev):
                tail = tail_pass.tail_partial(
                    patterns,
                    q.to(acc) * beta,
                    chunk_rows=getattr(patterns, "chunk_rows", n),
                    with_states=with_states,
                    may_stop=fused_available(dt, dev),
                )
                total, start = tail.partial, tail.stopped
            if start < n:  # dense weights: the fused kernel takes the rest of the patterns
                fused_rows = min(FUSED_CHUNK, getattr(patterns, "chunk_rows", n))
                total = merge(total, _fused_partial(patterns, q, beta, fused_rows, with_states, start))
            rows = slice(q0, q0 + bq)
            lse[rows] = (total.m + torch.log(total.s) - log_n) / beta
            if with_states:
                states[rows] = (total.o / total.s[:, None]).to(dt)
            continue
        qb = q if half else q.to(acc) * beta  # half: beta is applied in float32 after the product
        if buf is None:
            buf = torch.empty(qc * pc, dtype=acc, device=dev)
            hbuf = torch.empty(qc * pc, dtype=dt, device=dev) if half else None
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
            if linear:  # beta x^T xi below rounding: lse - beta^-1 log N = mean_i x_i^T xi + O(beta M^2 Q^2)
                lse[rows] = q.to(acc) @ xsum / n
            else:
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
