"""Benchmark of one update pass against its floor (a benchmark, not a test), run by `make bench`.

    python benchmarks/bench_kernel.py                 # N = 1e7, d = 64, 1024 queries (the issue's case; minutes)
    python benchmarks/bench_kernel.py --n 200000      # a quick look
    python benchmarks/bench_kernel.py --signs --n 2000000 --d 128 --no-float64   # the frontier's case

Cases (float32, beta = 8, patterns and queries on the sphere of radius 8, all side by side in ONE run, with the
machine's load printed beside them, since a shared machine makes absolute times noisy):
  bare     the floor: Q X_c^T, then (B, N_c) @ X_c per pattern chunk of 65,536 rows (the two matrix products)
  bare-1k  the same two products on tiles of 1,024 rows (the tiling the sparse-tail pass uses; often faster)
  sdpa     torch's fused CPU kernel _scaled_dot_product_flash_attention_for_cpu (it also returns the lse)
  chunked  the chunked online-softmax kernel (no fast path: the path device=cuda takes)
  fused    ModernHopfield(beta).update on the fused kernel alone (the sparse-tail pass off)
  core     ModernHopfield(beta).update as it runs: the sparse-tail pass (``core.tail_pass``), fused where dense
  float64  the sparse-tail pass in float64, the reference-grade path (for scale)
--signs: +-1 patterns, queries = stored patterns with 25% of their bits flipped (the capacity frontier).
Target: core / bare <= 1.5 (ratios are to the first row; the smaller of the two bare rows is the floor).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hopfield_cli.core import budget, streaming, tail_pass  # noqa: E402
from hopfield_cli.core.modern import ModernHopfield  # noqa: E402


def sphere(n: int, d: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    return x.div_(x.norm(dim=1, keepdim=True)).mul_(8.0)


def signs(n: int, d: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    """+-1 patterns and B of them with 25% of their bits flipped."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 2, (n, d), generator=g, dtype=torch.uint8).float().mul_(2).sub_(1)
    q = x[torch.randint(0, n, (b,), generator=g)].clone()
    q[torch.rand(b, d, generator=g) < 0.25] *= -1
    return x, q


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
    parser.add_argument("--signs", action="store_true", help="+-1 patterns and 25%%-flipped queries")
    args = parser.parse_args()
    n, d, b, beta = args.n, args.d, args.b, 8.0
    x, q = signs(n, d, b) if args.signs else (sphere(n, d, 0), sphere(b, d, 1))
    chunk = 1 << 16
    buf = torch.empty(b, chunk)

    def bare():
        for p in range(0, n, chunk):
            xc = x[p : p + chunk]
            s = torch.mm(q, xc.T, out=buf[:, : xc.shape[0]])
            torch.mm(s, xc)

    tile = torch.empty(b, 1024)

    def bare_tiled():
        for p in range(0, n, 1024):
            xc = x[p : p + 1024]
            s = torch.mm(q, xc.T, out=tile[:, : xc.shape[0]])
            torch.mm(s, xc)

    def sdpa():
        op = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
        op(q[None, None], x[None, None], x[None, None], scale=beta)

    def kernel(fused: bool, tail: bool, dtype=torch.float32):
        model = ModernHopfield(beta)
        xx, qq = (x, q) if dtype == torch.float32 else (x.to(dtype), q.to(dtype))

        def run():
            streaming.FUSED, tail_pass.ENABLED = fused, tail
            model.update(xx, qq)

        return run

    cases = [
        ("bare", bare),
        ("bare-1k", bare_tiled),
        ("sdpa", sdpa),
        ("chunked", kernel(False, False)),
        ("fused", kernel(True, False)),
        ("core", kernel(True, True)),
    ]
    if not args.no_float64:
        cases.append(("float64", kernel(False, True, torch.float64)))
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
    streaming.FUSED, tail_pass.ENABLED = True, True
    print(f"load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
