"""`hopfield capacity-sweep`: success rate vs N per (model, beta, d); capacity with theory beside it.

For every series (model, beta, d) the number of stored patterns N is found adaptively: N grows
geometrically from ``n_start`` by ``growth`` until the success rate is at most a quarter of ``threshold``
or below it twice in a row (or N reaches ``n_max`` / the memory's size), then the crossing is refined by
``refine_steps`` bisection steps (geometric midpoints). One cell = one (model, beta, d, N) with ``trials``
independent pattern sets; each finished cell goes to ``cells.jsonl`` at once (``resume.CellLog``), so a kill
costs at most the cell in flight and a resumed sweep replays the same decisions from the logged cells.

Every model sees the SAME patterns and queries at a given (d, trial, N): patterns are the first N rows of
a per-(d, trial) stream (``pattern_bank``), queries come from a generator seeded by (seed, "queries", d,
trial, N) alone (``queries.corrupted``). Capacity = the largest tested N whose success rate (pooled over
trials) is >= threshold, with theory beside it (``capacity_table``): 0.138 d, d/(2 log d), d/(4 log d) for the
classical network (Amit et al.; McEliece et al.) and Theorem 3 of Ramsauer et al. (2021) for the modern one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from hopfield_cli.config import option_text
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments import footprint as fp
from hopfield_cli.experiments import queries as query_maker
from hopfield_cli.experiments.capacity_sweep.bank import (
    BLOCK_ROWS,
    CACHE_BYTES,
    DrawnPatterns,
    PatternBank,
    generator,
    load_fixed,
    separation,
)
from hopfield_cli.experiments.capacity_sweep.ladder_cells import check_ladder, next_cell, run_ladder
from hopfield_cli.experiments.capacity_sweep.schedule import (
    UNBOUNDED_N,
    ladder,
    n_limit,
    resolved,
    search_mode,
    series_budget,
)
from hopfield_cli.experiments.capacity_sweep.table import (
    capacity_table,
    outcome,
    pooled_rates,
    print_summary,
    setting,
)
from hopfield_cli.experiments.families import has_beta, make_model
from hopfield_cli.experiments.patterns import device_and_dtype
from hopfield_cli.experiments.resume import CellLog, fingerprint, work_folder
from hopfield_cli.experiments.scoring import score
from hopfield_cli.experiments.threads import problem_threads
from hopfield_cli.experiments.warnings import meaning_warnings, warn
from hopfield_cli.report.console import cell_progress
from hopfield_cli.report.files import write_json, write_run_info, write_table

# The config fields that decide the results; plus families.<m> for the families in ``models`` only, so that
# resume, plots, device, memory_budget and an unused family's settings never block a resume.
RESULT_FIELDS = (
    "seed",
    "dtype",
    "patterns",
    "corruption",
    "models",
    "beta",
    "betas",
    "dim",
    "dims",
    "memory",
    "normalise",
    "binarise",
    "trials",
    "num_queries",
    "n_start",
    "n_max",
    "growth",
    "refine_steps",
    "threshold",
    "update_steps_max",
    "eps",
    "success",
    "success_tol",
)


@dataclass(frozen=True)
class Series:
    model: str
    beta: float | None  # None: the family has no inverse temperature (classical, dense)
    dim: int

    def label(self) -> str:
        return f"{self.model}{'' if self.beta is None else f' beta={self.beta:g}'} d={self.dim}"

    def key(self, n: int) -> dict[str, Any]:
        return {"model": self.model, "beta": self.beta, "dim": self.dim, "num_patterns": int(n)}


@dataclass(frozen=True)
class Context:
    """What every cell of one run shares: where it computes and the memory file's image side."""

    device: torch.device
    dtype: torch.dtype
    memory_budget: int | None
    image_side: int | None
    shard_folder: Path = Path("shards")  # where sharded passes keep their inputs and the tasks' partials


def make_queries(cfg: Any, patterns: torch.Tensor, trial: int, image_side: int | None):
    """Queries (B, d) and target ids (B,) of one (d, trial, N): the same for every model and beta."""
    n, d = patterns.shape
    gen = generator(cfg.seed, "queries", d, trial, n)
    return query_maker.corrupted(patterns, cfg.corruption, cfg.num_queries, gen, image_side)


FOOTPRINT_N = 10**8  # the N a footprint assumes for n_max=null over drawn patterns (no limit)


def sharded_model(cfg: Any, series: Series, bank: PatternBank, trial: int, n: int, ctx: Context) -> Any:
    """The modern network of one trial whose update passes run as ``shards`` tasks (``shards.ShardedModern``),
    in a folder of the sweep's run folder (``ctx.shard_folder``)."""
    from hopfield_cli.experiments.capacity_sweep import shards

    runner = shards.Runner(cfg.shard_runner, cfg.shard_partition, torch.get_num_threads())
    return shards.ShardedModern(
        float(series.beta),
        spec=shards.source_spec(cfg, series.dim, trial, n, ctx.dtype),
        count=cfg.shards,
        runner=runner,
        folder=ctx.shard_folder / f"d{series.dim}-t{trial}-n{n}",
    )


def run_cell(cfg: Any, series: Series, n: int, bank: PatternBank, ctx: Context) -> list[dict[str, Any]]:
    """Retrieve ``num_queries`` corrupted patterns in each trial at N = n; one row per trial.

    All queries of a trial go to the core in ONE batched call; trials loop (each trial stores a different
    memory, so they cannot share a call).
    """
    from hopfield_cli.core.models import check_binary

    family = getattr(cfg.families, series.model)
    model = make_model(family, series.beta, cfg.seed, ctx.memory_budget, f"families.{series.model}")
    rows = []
    # the modern network reads drawn patterns block by block: nothing held whatever N is (``DrawnPatterns``)
    drawn = series.model == "modern" and bank.streams()
    for trial in range(cfg.trials):
        started = time.perf_counter()
        patterns = bank.drawn(trial, n) if drawn else bank.prefix(trial, n)
        if drawn and int(getattr(cfg, "shards", 1)) > 1:  # each update pass split over tasks (``shards``)
            model = sharded_model(cfg, series, bank, trial, n, ctx)
        queries, target_ids = make_queries(cfg, patterns, trial, ctx.image_side)
        patterns, queries = check_binary(patterns, queries, binarise=cfg.binarise, model_name=series.model)
        scored = score(
            model,
            patterns.to(device=ctx.device, dtype=ctx.dtype),
            queries,
            target_ids,
            update_steps_max=cfg.update_steps_max,
            eps=cfg.eps,
            criterion=cfg.success,
            tol=cfg.success_tol,
            stats=False,  # the success test needs the final states only
            separation=separation(cfg, bank, n),
        )
        success, result = scored.success, scored.result
        rows.append(
            {
                **series.key(n),
                "beta": float("nan") if series.beta is None else series.beta,
                "trial": trial,
                **outcome(success, result),
                "seconds": round(time.perf_counter() - started, 4),
                # work: pattern-query products (each pass of the active queries, then the nearest-pattern pass)
                "products": int(n) * (int(result.steps.sum()) + int(success.numel())),
            }
        )
    return rows


def measure(
    cfg: Any, series: Series, targets: int | None, ns: list[int], bank: PatternBank, ctx: Context
) -> dict[int, list[dict[str, Any]]]:
    """The rows of one cell of ``next_cell``: one N (``run_cell``) or a ladder (``run_ladder``), with the
    patterns drawn for it on its largest N's rows (0 on a ladder's other rows: its work is one pass)."""
    top, drawn_before = ns[-1], bank.drawn_rows
    with problem_threads(ctx.device, top * series.dim * cfg.num_queries):  # one thread for small cells
        if targets is None:
            fresh = {top: run_cell(cfg, series, top, bank, ctx)}
        else:
            fresh = run_ladder(cfg, series, targets, ns, bank, ctx)
    drawn = (bank.drawn_rows - drawn_before) // len(fresh[top])
    for n, rows in fresh.items():
        for r in rows:
            r["patterns_drawn"] = drawn if n == top else 0
    return fresh


# --- the work done, and an ETA from it -----------------------------------------------------------------


class Work:
    """Patterns drawn and pattern-query products of the cells computed so far, and the products per second
    they ran at: the next cell's ETA is its predicted products (N x (queries x steps + queries) per trial,
    steps as measured so far) at that rate."""

    def __init__(self) -> None:
        self.drawn = self.products = self.steps = self.queries = 0
        self.seconds = 0.0

    def add(self, rows: list[dict[str, Any]], seconds: float) -> None:
        for r in rows:
            self.drawn += int(r.get("patterns_drawn", 0))
            self.products += int(r["products"])
            self.steps += int(round(r["steps_mean"] * r["num_queries"]))
            self.queries += int(r["num_queries"])
        self.seconds += seconds

    def eta(self, n: int, cfg: Any) -> str:
        """`` (ETA ~x s)`` for a cell at N = n, from the measured rate; empty before the first second."""
        if self.seconds < 1.0 or not self.products:
            return ""
        steps_per_query = self.steps / max(self.queries, 1) + 1.0
        cell = n * cfg.num_queries * cfg.trials * steps_per_query
        return f" (ETA ~{cell / (self.products / self.seconds):,.0f} s)"

    def text(self) -> str:
        return f"{self.drawn:,} patterns drawn, {self.products:.3g} pattern-query products in {self.seconds:.0f} s"


# --- the adaptive N sequence --------------------------------------------------------------------------


# --- the sweep ----------------------------------------------------------------------------------------


def sweep_fingerprint(cfg: Any, checksum: str | None) -> dict[str, Any]:
    """``RESULT_FIELDS``, the settings of the families in ``models``, the block size and the memory's checksum."""
    families = tuple(f"families.{m}" for m in dict.fromkeys(cfg.models))
    extra: dict[str, Any] = {"command": "capacity-sweep", "pattern_block_rows": BLOCK_ROWS}
    cfg = resolved(cfg)  # n_max and search as run: a default held sweep keeps its earlier fingerprint
    if cfg.search != "grow":  # grow leaves the fingerprints of earlier sweeps as they were
        extra["search"] = cfg.search
    if int(getattr(cfg, "shards", 1)) > 1:  # passes folded over units: the same bits for every shards >= 2
        extra["sharded_passes"] = True
    if cfg.memory is not None:
        extra["memory_checksum"] = checksum
    return fingerprint(cfg, RESULT_FIELDS + families, **extra)


def sweep_dims(cfg: Any, fixed: torch.Tensor | None) -> list[int]:
    """The dimensions to sweep: ``dims`` (or [dim]) for drawn patterns, the file's d for a fixed matrix."""
    if fixed is None:
        return list(dict.fromkeys(int(d) for d in (cfg.dims or [cfg.dim])))
    d = int(fixed.shape[1])
    if cfg.dims is not None and [int(x) for x in cfg.dims] != [d]:
        field = "memory" if cfg.memory is not None else "patterns.path"
        raise UsageError(
            "dims", f"the patterns of {field} have d = {d}; leave dims unset (null) or set dims=[{d}]"
        )
    return [d]


def footprint(cfg: Any) -> list[fp.Term]:
    """The cells of one d at a time (the largest d decides): the stored patterns at N = n_max (a file's N and d
    from its header) with the kept rows (``CACHE_BYTES``), one block being drawn, the queries, the nearest-pattern
    search and every family's working arrays (``experiments.footprint``)."""
    b, steps = cfg.num_queries, cfg.update_steps_max
    dim_field = "dims" if cfg.dims else "dim"
    fixed = not fp.generated(cfg)
    worst: list[fp.Term] = []
    for d in [None] if fixed else [int(x) for x in (cfg.dims or [cfg.dim])]:
        # n_max=null over drawn patterns has no limit: the target ids (a permutation of N) are sized at 10^8
        src = fp.source(cfg, FOOTPRINT_N if n_limit(cfg) == UNBOUNDED_N else n_limit(cfg), d)
        n, d = src.n, src.d
        n_field = src.field if fixed else ("n_max" if n >= d else dim_field)
        drawn = 0 if fixed else BLOCK_ROWS * d * src.per + min(CACHE_BYTES, cfg.trials * n * d * 4)
        streamed = not fixed and set(cfg.models) == {"modern"} and cfg.normalise in ("none", "unit")
        if (
            streamed
        ):  # drawn block by block (``DrawnPatterns``): the chunks in flight, the kept blocks, the ids
            rows = DrawnPatterns.chunk_rows
            terms = [
                fp.Term(
                    dim_field, 3 * rows * d * 8 + BLOCK_ROWS * d * src.per, f"{rows:,} x {d:,} rows in flight"
                ),
                fp.Term(n_field, min(CACHE_BYTES, cfg.trials * n * d * 4), "kept blocks (cache)"),
                fp.Term(n_field, n * 8, f"target ids: a permutation of {n:,}"),
                fp.queries_term(b, d, steps),
                fp.nearest_term(0),
            ]
            if search_mode(cfg) == "ladder":  # every N of a ladder: the states and their copies (K, B, d)
                rungs = len(ladder(1 << 20, int(round((1 << 20) * cfg.growth)))) + 1
                terms.append(
                    fp.Term("num_queries", 3 * rungs * b * d * 4, f"{rungs} ladder Ns x {b:,} states")
                )
        else:
            terms = [
                src.term() if fixed else fp.Term(n_field, n * d * 8, f"{n:,} x {d:,} patterns (N = n_max)"),
                fp.Term(dim_field, drawn, f"{BLOCK_ROWS:,} x {d:,} block being drawn and the kept rows"),
                *fp.prepare_terms(cfg, src),
                fp.queries_term(b, d, steps),
                fp.nearest_term(n),
            ]
        if fixed:
            terms.append(fp.duplicate_term(n_field, n, d))
        for model in dict.fromkeys(cfg.models):
            terms += fp.model_terms(model, n, d, b, cfg, n_field)
        if sum(t.bytes for t in terms) > sum(t.bytes for t in worst):
            worst = terms
    return worst


def check_inputs(
    cfg: Any, banks: dict[int, PatternBank], models: list[str], ctx: Context
) -> dict[int, float]:
    """Refuse inputs a family cannot take before any work (a one-line error, nothing logged); warn where the
    results lose meaning. Returns M = max ||x_i|| of each d's first block, for Theorem 3's K."""
    from hopfield_cli.core.dense import order_overflow
    from hopfield_cli.core.models import check_binary

    betas = [float(b) for b in (cfg.betas or [cfg.beta])]
    norms = {}
    for d, bank in banks.items():
        fixed = bank.fixed is not None
        # a file/memory is checked whole: a value the binary families refuse must not stop the sweep halfway
        first = bank.prefix(0, bank.limit if fixed else min(cfg.n_start, bank.limit))
        queries, _ = make_queries(cfg, first, 0, ctx.image_side)
        for m in models:
            check_binary(first, queries, binarise=cfg.binarise, model_name=m)
        problem = order_overflow(cfg.families.dense.n, bank.limit, d) if "dense" in models else None
        if problem is not None:  # a file's N and d (drawn patterns are checked before the run)
            raise UsageError("families.dense.n", problem)
        norms[d] = float(bank.prefix(0, min(BLOCK_ROWS, bank.limit)).norm(dim=1).max())
        if fixed:  # generated patterns: duplicates and one-hot weights are what the sweep measures
            warn(meaning_warnings(bank.prefix(0, bank.limit), betas if any(map(has_beta, models)) else None))
    return norms


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Run (or resume) the sweep; write results.*, capacity.*, summary.json, figures; return the capacity table."""
    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    run_dir = work_folder(cfg.resume, run_dir)
    fixed = load_fixed(cfg)
    dims = sweep_dims(cfg, None if fixed is None else fixed.patterns)
    betas = [float(b) for b in (cfg.betas or [cfg.beta])]
    models = list(dict.fromkeys(cfg.models))
    series = [Series(m, b, d) for d in dims for m in models for b in (betas if has_beta(m) else [None])]
    image_side = None if fixed is None else fixed.image_side
    ctx = Context(device, dtype, cfg.budget_bytes, image_side, run_dir / "shards")
    banks = {d: PatternBank(cfg, d, None if fixed is None else fixed.patterns) for d in dims}
    check_ladder(cfg)
    pattern_norms = check_inputs(cfg, banks, models, ctx)
    log = CellLog(run_dir, sweep_fingerprint(cfg, None if fixed is None else fixed.metadata.get("checksum")))
    resumed, computed = len(log), 0

    budget = {s: series_budget(cfg, banks[s.dim].limit) for s in series}
    work = Work()
    all_rows: list[dict[str, Any]] = []
    with cell_progress("capacity-sweep", sum(budget.values()), at_most=True) as bar:  # upper estimate
        for d in dims:
            for s in (s for s in series if s.dim == d):
                rows_s: list[dict[str, Any]] = []
                cells_s = 0
                while (cell := next_cell(pooled_rates(rows_s), cfg, banks[d].limit)) is not None:
                    targets, ns = cell
                    top = ns[-1]
                    logged = {n: log.get(s.key(n)) for n in ns}
                    shown = f"N={top:,}" if len(ns) == 1 else f"N={ns[0]:,}..{top:,} ({len(ns)} N, one pass)"
                    bar.begin(f"{s.label()} {shown}" + work.eta(top, cfg))
                    if any(rows is None for rows in logged.values()):
                        cell_started = time.perf_counter()
                        fresh = measure(cfg, s, targets, ns, banks[d], ctx)
                        work.add(fresh[top], time.perf_counter() - cell_started)
                        for n in ns:  # a resumed ladder logs only what its interrupted run had not
                            if logged[n] is None:
                                log.add(s.key(n), fresh[n])
                                logged[n] = fresh[n]
                                computed += 1  # cells = (series, N), as the log counts them
                    for n in ns:
                        rows_s.extend(logged[n])
                    cells_s += 1
                    budget[s] = max(budget[s], cells_s + 1)
                    bar.advance()
                rates = pooled_rates(rows_s)
                budget[s] = cells_s
                bar.set_total(sum(budget.values()))
                passing = [n for n, r in rates.items() if r >= cfg.threshold]
                bar.note(
                    f"{s.label()}: capacity {max(passing, default=0):,} ({len(rates)} N tested; {work.text()})"
                )
                all_rows.extend(rows_s)
            banks[d].clear()
    results = pd.DataFrame(all_rows).sort_values(
        ["model", "beta", "dim", "num_patterns", "trial"], na_position="first"
    )
    results = results.reset_index(drop=True)
    corruption = option_text(cfg.corruption)  # with model, beta, dim: what identifies a row across runs
    results.insert(3, "corruption", corruption)
    write_table(results, run_dir, "results")
    limit = min(b.limit for b in banks.values())
    capacity = capacity_table(results, series, cfg, limit, pattern_norms)
    capacity.insert(3, "corruption", corruption)
    write_table(capacity, run_dir, "capacity")
    seconds = time.perf_counter() - started
    write_json(
        run_dir / "summary.json",
        {
            "capacity": capacity.replace({np.nan: None}).to_dict("records"),
            "cells": int(results.groupby(["model", "beta", "dim", "num_patterns"], dropna=False).ngroups),
            "cells_computed": computed,
            "cells_resumed": resumed,
            "seconds": round(seconds, 3),
        },
    )
    write_run_info(
        run_dir, "capacity-sweep", cfg.seed, device, cells_resumed=resumed, cells_computed=computed
    )
    if cfg.plots:
        from hopfield_cli.report import capacity_figures

        capacity_figures.save_success_curves(
            run_dir / "success_vs_n.png", results, cfg.threshold, setting(cfg)
        )
        capacity_figures.save_capacity_vs_dim(run_dir / "capacity_vs_dim.png", capacity, setting(cfg))
        capacity_figures.save_capacity_frontier(run_dir / "capacity_frontier.png", capacity, setting(cfg))
    print_summary(capacity, cfg, seconds, computed, resumed)
    return capacity
