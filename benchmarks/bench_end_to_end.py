"""End-to-end benchmark (issue 11; a benchmark, not a test): each command's wall time and peak memory beside the
core alone on the same inputs and the bare matrix products of the steps it takes (the floor), as ratios.

    python benchmarks/bench_end_to_end.py                    # retrieve at N = 1e5, 1e6, 1e7; store 1e7; sweeps
    python benchmarks/bench_end_to_end.py --sizes 1e5 1e6    # a subset
    python benchmarks/bench_end_to_end.py --cases retrieve   # only some commands (retrieve store sweep scan)
    python benchmarks/bench_end_to_end.py --out DIR          # where end_to_end.md/.json go (default bench_results/)

Every measurement runs in its own process, read with ``os.wait4`` (wall time, ``ru_maxrss``: the peak resident
memory, exact). retrieve runs ``hopfield retrieve patterns=gaussian num_patterns=N dim=64 num_queries=1024
beta=8``; "core" is ``ModernHopfield(8).retrieve`` on the same patterns and queries (the same seed and
corruption, made with the CLI's own functions) and "floor" the two products Q X^T and P X of every update step
the core took (its active queries per step) plus the final pass's Q X^T, chunked as the core plans them. Memory
target: peak <= patterns' bytes + 1 GiB + the interpreter (a tiny run's peak). Timings share the machine: ratios
are taken within one run, and the load average is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOPFIELD = str(Path(sys.executable).with_name("hopfield"))
GIB = 1024**3
D, B, BETA = 64, 1024, 8.0

# The core alone on the CLI's inputs (same seed, draws and corruption), then the floor: the products of its steps.
CORE = r"""
import json, sys, time, torch
from types import SimpleNamespace
from hopfield_cli.core import budget
from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.data.patterns import gaussian
from hopfield_cli.experiments import queries as qm
n, d, b, beta, what = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
gen = torch.Generator().manual_seed(0)
x = gaussian(n, d, gen)
q, _ = qm.corrupted(x, SimpleNamespace(name="flip", p=0.25), b, gen)
t0 = time.perf_counter()
res = ModernHopfield(beta).retrieve(x, q, update_steps_max=100, eps=1e-5)
core = time.perf_counter() - t0
active = [int((res.steps > t).sum()) for t in range(int(res.steps.max()))]
floor = None
if what == "floor":
    plan = budget.plan_chunks(n, b, memory_budget=budget.default_memory_budget("cpu"), with_stats=False)
    qc, pc = plan.query_chunk, plan.pattern_chunk
    buf = torch.empty(qc * min(pc, n))
    t0 = time.perf_counter()
    for a, both in [(a, True) for a in active] + [(b, False)]:  # each step: two products; the final pass: one
        for q0 in range(0, a, qc):
            qq = q[q0 : min(a, q0 + qc)]
            out = torch.zeros(qq.shape[0], d)
            for p0 in range(0, n, pc):
                xc = x[p0 : p0 + pc]
                blk = buf[: qq.shape[0] * xc.shape[0]].view(qq.shape[0], xc.shape[0])
                torch.mm(qq, xc.T, out=blk)
                if both:
                    out.addmm_(blk, xc)
    floor = time.perf_counter() - t0
print(json.dumps({"core": core, "floor": floor, "active": active}))
"""


def measure(argv: list[str], cwd: str, limit: float | None = None) -> dict:
    """Wall seconds and peak RSS (bytes) of one process, from os.wait4 (``timeout``'s, which includes the command
    it waited for); its stdout. rc 124: stopped after ``limit`` seconds."""
    if limit:
        argv = ["timeout", str(int(limit)), *argv]
    out = tempfile.TemporaryFile()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read().decode(errors="replace")
    return {"wall": wall, "peak": usage.ru_maxrss * 1024, "rc": proc.returncode, "out": text}


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def row(name: str, n: int, cmd: dict, base: int, core: dict | None = None) -> dict:
    patterns = n * D * 4
    extra = cmd["peak"] - base - patterns
    r = {
        "case": name,
        "N": n,
        "rc": cmd["rc"],
        "wall_s": round(cmd["wall"], 2),
        "peak_GiB": round(cmd["peak"] / GIB, 3),
        "beyond_patterns_GiB": round(extra / GIB, 3),
        "memory_target_met": cmd["rc"] == 0 and extra <= GIB,
        "load": load(),
    }
    if core:
        r.update(
            core_s=round(core["core"], 2),
            floor_s=round(core["floor"], 2) if core["floor"] else None,
            cmd_over_core=round(cmd["wall"] / core["core"], 2),
            cmd_over_floor=round(cmd["wall"] / core["floor"], 2) if core["floor"] else None,
            core_over_floor=round(core["core"] / core["floor"], 2) if core["floor"] else None,
            steps_active=core["active"],
        )
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    ap.add_argument("--cases", nargs="+", default=["retrieve", "store", "sweep", "scan"])
    ap.add_argument("--big", type=float, default=1e7, help="N of store and capacity-sweep's n_max")
    ap.add_argument("--scan-n", type=float, default=1e6, help="patterns of metastable-scan's memory")
    ap.add_argument("--no-floor", action="store_true", help="skip the bare products (halves the run)")
    ap.add_argument("--limit", type=float, default=None, help="stop each sweep/scan after this many seconds")
    ap.add_argument("--out", default=str(ROOT / "bench_results"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench_e2e_")
    rows = []

    def emit(r: dict) -> None:
        rows.append(r)
        print(json.dumps(r), flush=True)

    tiny = measure([HOPFIELD, "store", "num_patterns=8", "dim=8", f"out={work}/tiny.safetensors"], work)
    base = tiny["peak"]
    print(f"interpreter baseline (a tiny store): {base / GIB:.3f} GiB, {tiny['wall']:.2f} s; load {load()}")
    if "retrieve" in args.cases:
        for n in map(int, args.sizes):
            cmd = measure(
                [HOPFIELD, "retrieve", "patterns=gaussian", f"num_patterns={n}", f"dim={D}",
                 f"num_queries={B}", f"beta={BETA:g}"],
                work,
            )  # fmt: skip
            what = "none" if args.no_floor else "floor"
            core_run = measure(
                [sys.executable, "-c", CORE, str(n), str(D), str(B), str(BETA), what], str(ROOT)
            )
            core = json.loads(core_run["out"].strip().splitlines()[-1]) if core_run["rc"] == 0 else None
            r = row("retrieve", n, cmd, base, core)
            if core:
                r["core_peak_GiB"] = round(core_run["peak"] / GIB, 3)
            emit(r)
    big = int(args.big)
    if "store" in args.cases:
        cmd = measure(
            [HOPFIELD, "store", "patterns=gaussian", f"num_patterns={big}", f"dim={D}",
             f"out={work}/memory.safetensors"],
            work,
        )  # fmt: skip
        emit(row("store", big, cmd, base))
        if "retrieve" in args.cases and cmd["rc"] == 0:
            cmd = measure(
                [HOPFIELD, "retrieve", f"memory={work}/memory.safetensors", f"num_queries={B}", f"beta={BETA:g}"],
                work,
            )  # fmt: skip
            emit(row("retrieve from the stored file", big, cmd, base))
    if "sweep" in args.cases:
        cmd = measure(
            [HOPFIELD, "capacity-sweep", f"dims=[{D}]", f"beta={BETA:g}", f"n_start={big}", f"n_max={big}",
             "models=[modern]", "trials=1", "refine_steps=0", "plots=false"],
            work,
            args.limit,
        )  # fmt: skip
        emit(row("capacity-sweep", big, cmd, base))
    if "scan" in args.cases:
        n = int(args.scan_n)
        mem = f"{work}/scan.safetensors"
        measure([HOPFIELD, "store", "patterns=gaussian", f"num_patterns={n}", f"dim={D}", f"out={mem}"], work)
        cmd = measure(
            [HOPFIELD, "metastable-scan", f"memory={mem}", "clusters=0", "plots=false"], work, args.limit
        )
        emit(row("metastable-scan", n, cmd, base))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "end_to_end.json").write_text(json.dumps(rows, indent=1))
    cols = ["case", "N", "rc", "wall_s", "peak_GiB", "beyond_patterns_GiB", "memory_target_met", "core_s",
            "floor_s", "cmd_over_core", "cmd_over_floor", "core_over_floor", "load"]  # fmt: skip
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in cols) + " |" for r in rows]
    table = "\n".join(lines)
    (out / "end_to_end.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
