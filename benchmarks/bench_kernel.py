"""Benchmark of one update pass against its floor (a benchmark, not a test), run by `make bench`.

    python benchmarks/bench_kernel.py                 # N = 1e7, d = 64, 1024 queries (the issue's case; minutes)
    python benchmarks/bench_kernel.py --n 200000      # a quick look

Cases (float32, beta = 8, patterns and queries on the sphere of radius 8, all side by side in ONE run, with the
machine's load printed beside them, since a shared machine makes absolute times noisy):
  bare     the floor: Q X_c^T, then (B, N_c) @ X_c per pattern chunk (the two matrix products alone)
  sdpa     torch's fused CPU kernel _scaled_dot_product_flash_attention_for_cpu (it also returns the lse)
  chunked  the chunked online-softmax kernel (streaming.FUSED = False: the path device=cuda takes)
  core     ModernHopfield(beta).update: the fused path (streaming.FUSED = True)
  float64  the chunked kernel in float64, the reference-grade path (for scale)
Target: core / bare <= 1.5.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hopfield_cli.core import budget, streaming  # noqa: E402
from hopfield_cli.core.modern import ModernHopfield  # noqa: E402


def sphere(n: int, d: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return x.div_(x.norm(dim=1, keepdim=True)).mul_(8.0)


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--b", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-float64", action="store_true")
    args = parser.parse_args()
    n, d, b, beta = args.n, args.d, args.b, 8.0
    x, q = sphere(n, d, 0), sphere(b, d, 1)
    chunk = 1 << 16
    buf = torch.empty(b, chunk)

    def bare():
        for p in range(0, n, chunk):
            xc = x[p : p + chunk]
            s = torch.mm(q, xc.T, out=buf[:, : xc.shape[0]])
            torch.mm(s, xc)

    def sdpa():
        op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        op(q[None, None], x[None, None], x[None, None], scale=beta)

    def kernel(fused: bool, dtype=torch.float32):
        streaming.FUSED = fused
        model = ModernHopfield(beta)
        xx, qq = (x, q) if dtype == torch.float32 else (x.to(dtype), q.to(dtype))
        return lambda: model.update(xx, qq)

    cases = [("bare", bare), ("sdpa", sdpa), ("chunked", kernel(False)), ("core", kernel(True))]
    if not args.no_float64:
        cases.append(("float64", kernel(False, torch.float64)))
    load = os.getloadavg()
    print(f"N={n:,} d={d} B={b} threads={torch.get_num_threads()} load before {load[0]:.2f}")
    print(
        f"plan: {budget.plan_chunks(n, b, memory_budget=budget.resolve_budget(None, 'cpu'), with_stats=False)}"
    )
    floor = None
    print("| case | wall s | floor s | ratio |\n|---|---|---|---|")
    for name, fn in cases:
        wall = timed(fn, args.repeats)
        floor = wall if floor is None else floor
        print(f"| {name} | {wall:.2f} | {floor:.2f} | {wall / floor:.2f} |", flush=True)
    streaming.FUSED = True
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
