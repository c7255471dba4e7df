"""Baseline for `hopfield capacity-sweep`: the SAME cells as a plain loop of reference retrievals.

    python benchmarks/bench_capacity_loop.py [RUN_DIR] [--batch 16] [--repeat 3] [--threads 2]

Without RUN_DIR it runs the default sweep (`capacity-sweep dim=64 beta=8`) in a temporary folder and times
it; with ``--repeat`` the sweep and the loop alternate and the best time of each is printed (on a shared
machine single timings swing several-fold). Then, for every cell (model, beta, d, N) and trial of that sweep's results, it redraws the
patterns from scratch (no prefix reuse, no cache), makes the same queries, and retrieves them
``--batch`` queries at a time: modern cells with the textbook update xi <- X^T softmax(beta X xi) (rows as
patterns: softmax(beta Q X^T) X) iterated until every query of the batch moved by <= eps; classical cells with
the core model, also batch by batch. Prints both times and checks that the success counts agree.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from hopfield_cli.config import check_values, register_configs
from hopfield_cli.core.models import check_binary
from hopfield_cli.core.nearest import nearest_patterns
from hopfield_cli.experiments.capacity_sweep import sweep as capacity_sweep
from hopfield_cli.experiments.capacity_sweep.bank import PatternBank, load_fixed
from hopfield_cli.experiments.capacity_sweep.sweep import make_queries
from hopfield_cli.experiments.families import make_model
from hopfield_cli.experiments.scoring import success_mask

REPO = Path(__file__).resolve().parents[1]


def reference_modern(
    x: torch.Tensor, q: torch.Tensor, beta: float, steps_max: int, eps: float
) -> torch.Tensor:
    """Eq. 3 of Ramsauer et al. (2021), rows as patterns, iterated until the whole batch has converged."""
    xi = q
    for _ in range(steps_max):
        new = torch.softmax(beta * xi @ x.T, dim=1) @ x  # (B, d)
        moved = (new - xi).norm(dim=1).max()
        xi = new
        if moved <= eps:
            break
    return xi


def loop_baseline(cfg, results: pd.DataFrame, batch: int) -> tuple[float, int, int]:
    """Seconds for all cells of ``results`` done the plain way; successes (loop) and successes (sweep)."""
    fixed_set = load_fixed(cfg)
    fixed = fixed_set.patterns if fixed_set is not None else None
    started = time.perf_counter()
    loop_successes = 0
    for r in results.itertuples():
        bank = PatternBank(cfg, int(r.dim), fixed)  # a fresh bank per cell and trial: nothing reused
        x = bank.prefix(int(r.trial), int(r.num_patterns))
        queries, target_ids = make_queries(cfg, x, int(r.trial), None)
        x, queries = check_binary(x, queries, binarise=cfg.binarise, model_name=r.model)
        states = []
        for start in range(0, queries.shape[0], batch):
            q = queries[start : start + batch]
            if r.model == "modern":
                states.append(
                    reference_modern(x, q, float(r.beta), int(cfg.update_steps_max), float(cfg.eps))
                )
            else:
                beta = None if r.beta != r.beta else float(r.beta)
                family = getattr(cfg.families, r.model)
                model = make_model(family, beta, int(cfg.seed), None, f"families.{r.model}")
                states.append(
                    model.retrieve(
                        x, q, update_steps_max=int(cfg.update_steps_max), eps=float(cfg.eps)
                    ).states
                )
        states = torch.cat(states).float()
        retrieved, _ = nearest_patterns(x, states)
        loop_successes += int(
            success_mask(cfg.success, cfg.success_tol, states, x[target_ids], retrieved, target_ids).sum()
        )
    return time.perf_counter() - started, loop_successes, int(results.successes.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "run_dir", nargs="?", help="a finished capacity-sweep folder; default: run the default sweep"
    )
    parser.add_argument("--batch", type=int, default=16, help="queries per reference call")
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate sweep and loop this often; best of each"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_configs()
    if args.run_dir:
        run_dir = Path(args.run_dir)
        overrides = [
            line.strip()[2:]
            for line in (run_dir / ".hydra" / "overrides.yaml").read_text().splitlines()
            if line.startswith("- ") and not line.strip()[2:].startswith(("hydra.", "resume="))
        ]
        sweep_seconds = None
    else:
        run_dir = Path(tempfile.mkdtemp(prefix="capacity_sweep_"))
        overrides = ["dim=64", "beta=8"]
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        composed = compose("capacity_sweep", overrides=[*overrides, "plots=false"])
    with open_dict(composed):
        composed.pop("hydra", None)
    cfg = OmegaConf.to_object(composed)
    check_values(cfg)
    sweep_times, loop_times = [], []
    for i in range(max(1, args.repeat)):
        if not args.run_dir:
            folder = run_dir / f"run{i}"
            started = time.perf_counter()
            capacity_sweep.run(cfg, folder)
            sweep_times.append(time.perf_counter() - started)
        results = pd.read_parquet((folder if not args.run_dir else run_dir) / "results.parquet")
        seconds, loop_ok, sweep_ok = loop_baseline(cfg, results, args.batch)
        loop_times.append(seconds)
    sweep_seconds = min(sweep_times) if sweep_times else None
    loop_seconds = min(loop_times)
    cells = results.groupby(["model", "beta", "dim", "num_patterns"], dropna=False).ngroups
    print(f"cells: {cells} ({len(results)} cell-trials, {int(results.num_queries.sum()):,} queries)")
    if sweep_seconds is not None:
        print(f"capacity-sweep (batched, prefix reuse): {sweep_seconds:8.2f} s")
    else:
        print(f"capacity-sweep (from its summary.json):  see {run_dir / 'summary.json'}")
    print(f"plain loop (batch {args.batch}, no reuse):       {loop_seconds:8.2f} s")
    print(
        f"threads: {torch.get_num_threads()}; all times: sweep {[round(t, 2) for t in sweep_times]}, "
        f"loop {[round(t, 2) for t in loop_times]}"
    )
    print(f"successes: sweep {sweep_ok:,}, loop {loop_ok:,}")


if __name__ == "__main__":
    main()
