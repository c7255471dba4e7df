"""Benchmark of the retrieval core (a benchmark, not a test): speed of one update and peak memory at scale.

    python benchmarks/bench_core.py            # full: N=1e4 timing, peak RSS at N=1e6 and N=1e7
    python benchmarks/bench_core.py --quick    # smoke run: small shapes, N=1e5 for memory
    python benchmarks/bench_core.py --out DIR  # where bench_core.csv / bench_core.md go (default bench_results/)

Speed (float32, N=1e4, d=64, B=4096, beta=8, one update), medians after warm-up:
  reference  torch.softmax(beta * Q @ X.T, -1) @ X
  bare       Q @ X.T, then (B, N) @ X (the two matrix products alone)
  core       ModernHopfield(beta).update(X, Q)
Targets: reference / core >= 1.5, core / bare <= 1.35. Memory: each N runs in a fresh subprocess (retrieve with one
update, energies and k90), peak RSS (ru_maxrss) minus the patterns' bytes <= 1 GiB. With CUDA, also
scaled_dot_product_attention vs the core in float32 and bfloat16 (core / sdpa <= 1.2).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hopfield_cli.core.modern import ModernHopfield  # noqa: E402

GIB = 1024**3


def sphere(
    n: int, d: int, seed: int, device="cpu", dtype=torch.float32, chunk: int = 1 << 18
) -> torch.Tensor:
    """n random unit vectors, normalized in place chunk by chunk (no (n, d) temporaries)."""
    g = torch.Generator(device=device).manual_seed(seed)
    x = torch.randn(n, d, generator=g, device=device, dtype=dtype)
    for start in range(0, n, chunk):
        part = x[start : start + chunk]
        part.div_(torch.linalg.vector_norm(part, dim=1, keepdim=True))
    return x


def median_time(fn, repeats: int, warmup: int = 2, sync=lambda: None) -> float:
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed(n: int, d: int, b: int, beta: float, repeats: int) -> list[dict]:
    x, q = sphere(n, d, 0), sphere(b, d, 1)
    model = ModernHopfield(beta)

    def reference():
        return torch.softmax(beta * q @ x.T, -1) @ x

    def bare():
        return (q @ x.T) @ x

    err = float((model.update(x, q) - reference()).abs().max())
    # Interleave the three so that load from other processes hits them alike.
    t_ref, t_bare, t_core = [], [], []
    for _ in range(3):
        t_ref.append(median_time(reference, repeats))
        t_bare.append(median_time(bare, repeats))
        t_core.append(median_time(lambda: model.update(x, q), repeats))
    t_ref, t_bare, t_core = min(t_ref), min(t_bare), min(t_core)
    t_retr = median_time(
        lambda: model.retrieve(x, q, update_steps_max=1, eps=0.0), max(1, repeats // 3), warmup=1
    )
    shape = f"N={n} d={d} B={b} beta={beta} float32 cpu threads={torch.get_num_threads()}"
    return [
        row("reference softmax(beta Q X^T) X", t_ref * 1e3, "ms", shape),
        row("bare products Q X^T, (B,N) X", t_bare * 1e3, "ms", shape),
        row(
            "core update (ModernHopfield.update)",
            t_core * 1e3,
            "ms",
            shape,
            note=f"max |core - ref| = {err:.1e}",
        ),
        row("core retrieve, 1 update + energies + k90", t_retr * 1e3, "ms", shape, note="exact k90 (sort)"),
        row(
            "speedup reference / core", t_ref / t_core, "x", shape, target=">= 1.5", met=t_ref / t_core >= 1.5
        ),
        row("ratio core / bare", t_core / t_bare, "x", shape, target="<= 1.35", met=t_core / t_bare <= 1.35),
    ]


def row(name, value, unit, shape, target="", met=None, note=""):
    return {
        "measure": name,
        "value": round(value, 3),
        "unit": unit,
        "target": target,
        "met": "" if met is None else ("yes" if met else "NO"),
        "shape": shape,
        "note": note,
    }


def rss_child(n: int, d: int, b: int, beta: float) -> None:
    """Run in a fresh process: one retrieval at scale; prints peak RSS and the patterns' bytes as JSON."""
    x = sphere(n, d, 0)
    q = x[:b] + 0.05 * sphere(b, d, 1)
    t0 = time.perf_counter()
    res = ModernHopfield(beta).retrieve(x, q, update_steps_max=1, eps=0.0)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
    print(
        json.dumps(
            {
                "peak_rss": peak,
                "patterns_bytes": x.numel() * x.element_size(),
                "seconds": seconds,
                "k90_cap": res.k90_cap,
                "finite": bool(torch.isfinite(res.energies).all()),
            }
        )
    )


def memory(n: int, d: int, b: int, beta: float) -> list[dict]:
    cmd = [sys.executable, __file__, "--rss-child", str(n), str(d), str(b), str(beta)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    shape = f"N={n} d={d} B={b} beta={beta} float32 cpu, retrieve 1 update"
    if proc.returncode != 0:
        return [
            row(
                f"peak RSS - patterns, N={n:.0e}",
                float("nan"),
                "GiB",
                shape,
                "<= 1.0",
                False,
                note=proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"rc={proc.returncode}",
            )
        ]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    over = (out["peak_rss"] - out["patterns_bytes"]) / GIB
    note = (
        f"peak {out['peak_rss'] / GIB:.2f} GiB, patterns {out['patterns_bytes'] / GIB:.2f} GiB, "
        f"{out['seconds']:.1f} s, k90_cap={out['k90_cap']}, finite={out['finite']}"
    )
    return [row(f"peak RSS - patterns, N={n:.0e}", over, "GiB", shape, "<= 1.0", over <= 1.0, note)]


def cuda(n: int, d: int, b: int, beta: float, repeats: int) -> list[dict]:
    import torch.nn.functional as F

    rows = []
    sync = torch.cuda.synchronize
    for dtype in (torch.float32, torch.bfloat16):
        x, q = sphere(n, d, 0, "cuda", dtype), sphere(b, d, 1, "cuda", dtype)
        model = ModernHopfield(beta)
        q4, x4 = q.view(1, 1, b, d), x.view(1, 1, n, d)
        t_sdpa = median_time(
            lambda q4=q4, x4=x4: F.scaled_dot_product_attention(q4, x4, x4, scale=beta), repeats, sync=sync
        )
        t_core = median_time(lambda q=q, x=x, model=model: model.update(x, q), repeats, sync=sync)
        shape = f"N={n} d={d} B={b} beta={beta} {str(dtype).split('.')[-1]} cuda"
        rows += [
            row("sdpa", t_sdpa * 1e3, "ms", shape),
            row("core update", t_core * 1e3, "ms", shape),
            row("ratio core / sdpa", t_core / t_sdpa, "x", shape, "<= 1.2", t_core / t_sdpa <= 1.2),
        ]
    return rows


def write(rows: list[dict], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    tmp = out / "bench_core.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out / "bench_core.csv")
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    tmp = out / "bench_core.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out / "bench_core.md")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    parser.add_argument("--out", default="bench_results", help="output folder (default bench_results/)")
    parser.add_argument("--rss-child", nargs=4, metavar=("N", "D", "B", "BETA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        n, d, b, beta = args.rss_child
        rss_child(int(n), int(d), int(b), float(beta))
        return
    beta, d = 8.0, 64
    if args.quick:
        rows = speed(2_000, d, 512, beta, repeats=3) + memory(100_000, d, 256, beta)
        for r in rows:  # the targets are stated for the full shapes only
            r["met"] = ""
    else:
        rows = speed(10_000, d, 4096, beta, repeats=9)
        rows += memory(1_000_000, d, 1024, beta) + memory(10_000_000, d, 1024, beta)
    if torch.cuda.is_available():
        rows += cuda(10_000, d, 4096, beta, repeats=20)
    write(rows, Path(args.out))


if __name__ == "__main__":
    main()
