"""search=ladder in the sweep: a ladder cell's rows, the next cell of any search, and what a ladder needs.

A ladder cell measures every N of a geometric ladder from one pass over its largest N (``core.prefix_pass``);
``schedule.next_ladder`` says which ladder comes next.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from hopfield_cli.errors import UsageError
from hopfield_cli.experiments import queries as query_maker
from hopfield_cli.experiments.capacity_sweep.bank import PatternBank, generator, separation
from hopfield_cli.experiments.capacity_sweep.schedule import (
    next_ladder,
    next_n,
    next_n_crossing,
    search_mode,
    streams_only,
)
from hopfield_cli.experiments.capacity_sweep.table import outcome


def run_ladder(
    cfg: Any, series: Any, targets: int, rungs: list[int], bank: PatternBank, ctx: Any
) -> dict[int, list[dict[str, Any]]]:
    """``search=ladder``: retrieve ``num_queries`` corrupted patterns of the first ``targets`` patterns in each
    trial, in the memory of every N of ``rungs`` at once (one pass over the largest, ``core.prefix_pass``);
    one row per (N, trial). The queries are seeded by (seed, "queries", d, trial, "ladder", targets, N_top):
    a stream of their own, so the rows of a ladder are never mistaken for a single-N cell's.

    A trial's work (seconds, pattern-query products) is reported on its row at the ladder's largest N, and 0
    on the others, so that columns summed over a series count each pass once; ``pass_n`` names that N."""
    from hopfield_cli.core.base import RetrievalResult
    from hopfield_cli.core.models import check_binary
    from hopfield_cli.core.prefix_pass import retrieve_prefixes
    from hopfield_cli.experiments.scoring import judge

    top = rungs[-1]
    rows: dict[int, list[dict[str, Any]]] = {n: [] for n in rungs}
    for trial in range(cfg.trials):
        started = time.perf_counter()
        gen = generator(cfg.seed, "queries", series.dim, trial, "ladder", targets, top)
        queries, target_ids = query_maker.corrupted(
            bank.drawn(trial, targets),
            cfg.corruption,
            cfg.num_queries,
            gen,
            ctx.image_side,
            sample=query_maker.few_target_ids,  # no permutation of 10^8 ids
        )
        target_ids = target_ids.to(ctx.device)
        patterns = bank.drawn(trial, top).to(device=ctx.device, dtype=ctx.dtype)
        patterns, queries = check_binary(patterns, queries, binarise=cfg.binarise, model_name=series.model)
        got = retrieve_prefixes(
            float(series.beta),
            patterns,
            queries.to(device=ctx.device, dtype=ctx.dtype),
            rungs,
            update_steps_max=cfg.update_steps_max,
            eps=cfg.eps,
        )
        for k, n in enumerate(rungs):
            result = RetrievalResult(
                states=got.states[k],
                steps=got.steps[k],
                energies=torch.empty(0),
                converged=got.converged[k],
                max_weight=None,
                k90=None,
                k90_cap=None,
            )
            memory = bank.drawn(trial, n).to(device=ctx.device, dtype=ctx.dtype)
            scored = judge(
                result,
                memory,
                queries,
                target_ids,
                criterion=cfg.success,
                tol=cfg.success_tol,
                separation=separation(cfg, bank, n),
            )
            success, last = scored.success, n == top
            rows[n].append(
                {
                    **series.key(n),
                    "trial": trial,
                    **outcome(success, result),
                    "seconds": round(time.perf_counter() - started, 4) if last else 0.0,
                    "products": got.products if last else 0,
                    "pass_n": top,
                }
            )
    return rows


def next_cell(rates: dict[int, float], cfg: Any, limit: int) -> tuple[int | None, list[int]] | None:
    """The next cell of a series as (targets, Ns): a ladder (``schedule.next_ladder``) or one N (targets
    None: from all N patterns) of the grow or crossing search; None when the series is done."""
    mode = search_mode(cfg)
    if mode == "ladder":
        return next_ladder(rates, cfg, limit)
    n = (next_n_crossing if mode == "crossing" else next_n)(rates, cfg, limit)
    return None if n is None else (None, [n])


def check_ladder(cfg: Any) -> None:
    """``search=ladder`` needs what ``core.prefix_pass`` reads: the modern network alone, on patterns drawn
    block by block (generated, normalise none or unit)."""
    if search_mode(cfg) == "ladder" and (not streams_only(cfg) or int(getattr(cfg, "shards", 1)) > 1):
        raise UsageError(
            "search",
            "ladder measures models=[modern] on generated patterns (normalise none or unit) in one process "
            "(shards=1); use search=crossing or grow",
        )
