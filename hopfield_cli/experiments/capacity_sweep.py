"""`hopfield capacity-sweep`: success rate vs N per (model, beta, d); capacity with theory beside it.

For every series (model, beta, d) the number of stored patterns N is found adaptively: N grows
geometrically from ``n_start`` by ``growth`` until the success rate is below ``threshold`` twice in a
row (or N reaches ``n_max`` / the memory's size), then the crossing is refined by ``refine_steps``
bisection steps (geometric midpoints). One cell = one (model, beta, d, N) with ``trials`` independent
pattern sets; each finished cell goes to ``cells.jsonl`` at once (``CellLog``), so a kill costs at most
the cell in flight and a resumed sweep replays the same decisions from the logged cells.

Every model sees the SAME patterns and queries at a given (d, trial, N): patterns are the first N rows of
a per-(d, trial) stream generated in deterministic blocks, queries come from a generator seeded by
(seed, d, trial, N) alone. Capacity = the largest tested N whose success rate (pooled over trials) is
>= threshold; the interval comes from the per-trial capacities. Theory: 0.138 d, d/(2 log d), d/(4 log d)
for the classical network (Amit et al.; McEliece et al.), Theorem 3 of Ramsauer et al. (2021) for the
modern one, and a least-squares fit of log capacity vs d per (model, beta).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf

from hopfield_cli.cells import SWEEP_FILE, CellLog
from hopfield_cli.config import parse_bytes
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.capacity_table import capacity_table, pooled_rates, print_summary
from hopfield_cli.experiments.common import (
    BETA_MODELS,
    build_patterns,
    device_and_dtype,
    make_model,
    meaning_warnings,
    success_mask,
    warn,
)
from hopfield_cli.output import write_json, write_run_info, write_table
from hopfield_cli.progress import cell_progress

BLOCK_ROWS = (
    4096  # generated patterns come in blocks of this many rows: every N is a prefix of the same stream
)
CACHE_BYTES = (
    1 << 30
)  # generated pattern rows kept across cells (all trials of one d); beyond it they are redrawn
# Config fields that never change a result: left out of the fingerprint so a resume may change them.
NOT_IN_FINGERPRINT = ("resume", "plots", "device", "memory_budget")


@dataclass(frozen=True)
class Series:
    model: str
    beta: float | None  # None: the family has no inverse temperature (classical, dense)
    dim: int

    def key(self, n: int) -> dict[str, Any]:
        return {"model": self.model, "beta": self.beta, "dim": self.dim, "num_patterns": int(n)}


def derived_seed(*parts: Any) -> int:
    """A seed for one named stream (patterns of a block, queries of a cell): stable across runs and machines."""
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _generator(*parts: Any) -> torch.Generator:
    return torch.Generator().manual_seed(derived_seed(*parts))


# --- patterns and queries -----------------------------------------------------------------------------


class PatternBank:
    """Stored patterns of one dimension d for every trial, as prefixes of one deterministic stream.

    Generated sources are drawn lazily in blocks of ``BLOCK_ROWS`` rows, block b of trial t from its own
    generator (seed, d, t, b), so the first N rows never depend on how far the stream was grown: a
    resumed sweep and an uninterrupted one store the same patterns, and n_max = 1e6 costs nothing until
    a model gets there. Fixed sources (file, images, memory) are one matrix shared by all trials: N
    ranges over its prefixes and the trials differ in their queries only. ``normalise``/``binarise``
    act on the prefix, i.e. on the memory of N patterns actually stored.
    """

    def __init__(self, cfg: Any, dim: int, fixed: torch.Tensor | None):
        self.cfg, self.dim, self.fixed = cfg, dim, fixed
        self.source = dict(cfg.patterns)
        self.rows: dict[int, torch.Tensor] = {}

    @property
    def limit(self) -> int:
        return int(self.fixed.shape[0]) if self.fixed is not None else int(self.cfg.n_max)

    def _block(self, trial: int, block: int) -> torch.Tensor:
        from hopfield_cli.data.patterns import make_patterns

        gen = _generator(int(self.cfg.seed), "patterns", self.dim, trial, block)
        if self.source["source"] != "correlated":
            return make_patterns(self.source, BLOCK_ROWS, self.dim, gen)
        # Correlated patterns share ONE prototype per trial (data/patterns.py's definition); drawing the
        # prototype per block would decorrelate blocks, so the block is built here around the trial's prototype.
        rho, kind = float(self.source.get("correlation", 0.5)), self.source.get("kind", "binary")
        proto_gen = _generator(int(self.cfg.seed), "prototype", self.dim, trial)
        if kind == "binary":
            prototype = torch.randint(0, 2, (1, self.dim), generator=proto_gen).float() * 2 - 1
            copies = torch.rand(BLOCK_ROWS, self.dim, generator=gen) < math.sqrt(rho)
            fresh = torch.randint(0, 2, (BLOCK_ROWS, self.dim), generator=gen).float() * 2 - 1
            return torch.where(copies, prototype, fresh)
        z0 = torch.randn(1, self.dim, generator=proto_gen)
        return math.sqrt(rho) * z0 + math.sqrt(1.0 - rho) * torch.randn(BLOCK_ROWS, self.dim, generator=gen)

    def _raw(self, trial: int, n: int) -> torch.Tensor:
        if self.fixed is not None:
            return self.fixed[:n]
        have = self.rows.get(trial)
        have_n = 0 if have is None else have.shape[0]
        if have_n < n:
            blocks = [self._block(trial, b) for b in range(have_n // BLOCK_ROWS, -(-n // BLOCK_ROWS))]
            have = torch.cat(([have] if have is not None else []) + blocks)
            if (
                have.numel() * 4 + sum(r.numel() * 4 for t, r in self.rows.items() if t != trial)
                > CACHE_BYTES
            ):
                self.rows = {}  # keep memory bounded at huge N: the other trials are redrawn when needed
            self.rows[trial] = have
        return have[:n]

    def prefix(self, trial: int, n: int) -> torch.Tensor:
        """The first ``n`` stored patterns of ``trial``, (n, d) float32, normalised as configured."""
        from hopfield_cli.data import patterns as sources

        data = self._raw(trial, n)
        if self.cfg.normalise != "none":
            data = sources.normalise(data, self.cfg.normalise, field="normalise")
        if self.cfg.binarise:
            data = sources.binarise(data)
        return data.to(torch.float32)


def make_queries(cfg: Any, patterns: torch.Tensor, trial: int, image_side: int | None):
    """Queries (B, d) and target ids (B,) of one (d, trial, N): the same for every model and beta."""
    from hopfield_cli.data.corruption import corrupt

    n, d = patterns.shape
    gen = _generator(int(cfg.seed), "queries", d, trial, n)
    b = int(cfg.num_queries)
    target_ids = torch.randperm(n, generator=gen)[:b] if b <= n else torch.randint(0, n, (b,), generator=gen)
    corruption = dict(cfg.corruption)
    if corruption.get("kind") == "mask_lower_half":
        corruption["side"] = image_side
    return corrupt(patterns[target_ids], corruption, gen), target_ids


def load_fixed_patterns(cfg: Any) -> tuple[torch.Tensor | None, dict[str, Any]]:
    """The user's matrix for memory=... or patterns.source=file|images; None for generated sources."""
    if cfg.memory is not None:
        from hopfield_cli.data.memory_file import load_memory

        patterns, metadata = load_memory(cfg.memory, field="memory")
        return patterns.to(torch.float32), dict(metadata)
    if cfg.patterns.source in ("file", "images"):
        proxy = SimpleNamespace(
            patterns=cfg.patterns, normalise="none", binarise=False, num_patterns=None, dim=None
        )
        pattern_set = build_patterns(proxy, torch.Generator().manual_seed(int(cfg.seed)))
        return pattern_set.patterns, dict(pattern_set.metadata)
    return None, {"source": cfg.patterns.source}


# --- one cell -----------------------------------------------------------------------------------------


def run_cell(
    cfg: Any, series: Series, n: int, bank: PatternBank, ctx: dict[str, Any]
) -> list[dict[str, Any]]:
    """Retrieve ``num_queries`` corrupted patterns in each trial at N = n; one row per trial.

    All queries of a trial go to the core in ONE batched call; trials loop (each trial stores a different
    memory, so they cannot share a call).
    """
    from hopfield_cli.core.models import check_binary
    from hopfield_cli.core.nearest import nearest_patterns

    model = make_model(series.model, series.beta, cfg.model, int(cfg.seed), ctx["memory_budget"])
    rows = []
    for trial in range(int(cfg.trials)):
        started = time.perf_counter()
        patterns = bank.prefix(trial, n)
        queries, target_ids = make_queries(cfg, patterns, trial, ctx["image_side"])
        patterns, queries = check_binary(
            patterns, queries, binarise=bool(cfg.model.binarise), model_name=series.model
        )
        x = patterns.to(device=ctx["device"], dtype=ctx["dtype"])
        result = model.retrieve(
            x, queries.to(x), update_steps_max=int(cfg.update_steps_max), eps=float(cfg.eps)
        )
        states, x32 = result.states.float(), x.float()
        retrieved_ids, _ = nearest_patterns(x32, states)
        target_ids = target_ids.to(x.device)
        success = success_mask(
            cfg.success, cfg.success_tol, states, x32[target_ids], retrieved_ids, target_ids
        )
        rows.append(
            {
                **series.key(n),
                "beta": float("nan") if series.beta is None else series.beta,
                "trial": trial,
                "num_queries": int(success.numel()),
                "successes": int(success.sum()),
                "success_rate": float(success.float().mean()),
                "steps_mean": float(result.steps.float().mean()),
                "converged_fraction": float(result.converged.float().mean()),
                "seconds": round(time.perf_counter() - started, 4),
            }
        )
    return rows


# --- the adaptive N sequence --------------------------------------------------------------------------


def next_n(rates: dict[int, float], cfg: Any, limit: int) -> int | None:
    """The next N to measure given the pooled success rates measured so far; None when the series is done.

    A pure function of ``rates``: replaying it over logged cells revisits exactly the same Ns, so a resumed
    sweep ends with the table of an uninterrupted one. Growth: n_start, then x growth (at least +1), until
    the rate is below threshold twice in a row or N hits ``limit``. Refinement: ``refine_steps`` bisections
    (geometric midpoint) between the largest passing N and the next tested N above it, replayed step by step.
    """
    threshold = float(cfg.threshold)
    known: dict[int, float] = {}
    n, fails = min(int(cfg.n_start), limit), 0
    while True:
        if n not in rates:
            return n
        known[n] = rates[n]
        fails = fails + 1 if rates[n] < threshold else 0
        if fails >= 2 or n >= limit:
            break
        n = min(limit, max(n + 1, int(round(n * float(cfg.growth)))))
    for _ in range(int(cfg.refine_steps)):
        lo = max((m for m, r in known.items() if r >= threshold), default=0)
        above = [m for m in known if m > lo]
        if not above:
            return None  # never failed up to the limit: capacity is censored there
        hi = min(above)
        mid = hi // 2 if lo == 0 else int(round(math.sqrt(lo * hi)))
        mid = min(max(mid, lo + 1), hi - 1)
        if mid <= lo:
            return None  # adjacent integers: the crossing is exact
        if mid not in rates:
            return mid
        known[mid] = rates[mid]
    return None


def series_budget(cfg: Any, limit: int) -> int:
    """Upper estimate of a series' cells (growth to the limit + refinement), for the progress bar's total."""
    steps, n = 1, min(int(cfg.n_start), limit)
    while n < limit:
        n = min(limit, max(n + 1, int(round(n * float(cfg.growth)))))
        steps += 1
    return steps + int(cfg.refine_steps)


# --- the sweep ----------------------------------------------------------------------------------------


def fingerprint(cfg: Any, metadata: dict[str, Any]) -> dict[str, Any]:
    """The config fields that decide the results (not resume, plots, device, memory_budget)."""
    fields = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    for name in NOT_IN_FINGERPRINT:
        fields.pop(name, None)
    fields.update(command="capacity-sweep", pattern_block_rows=BLOCK_ROWS)
    if cfg.memory is not None:
        fields["memory_checksum"] = metadata.get("checksum")
    return fields


def sweep_dims(cfg: Any, fixed: torch.Tensor | None) -> list[int]:
    if fixed is None:
        return list(dict.fromkeys(int(d) for d in (cfg.dims or [cfg.dim])))
    d = int(fixed.shape[1])
    if cfg.dims is not None and [int(x) for x in cfg.dims] != [d]:
        field = "memory" if cfg.memory is not None else "patterns.path"
        raise UsageError(
            "dims", f"the patterns of {field} have d = {d}; leave dims unset (null) or set dims=[{d}]"
        )
    return [d]


def resume_dir(cfg: Any, run_dir: Path) -> Path:
    if cfg.resume is None:
        return run_dir
    folder = Path(str(cfg.resume)).expanduser()
    if not (folder / SWEEP_FILE).is_file():
        raise UsageError("resume", f"{folder} is not a capacity-sweep run folder (no {SWEEP_FILE})")
    return folder


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Run (or resume) the sweep; write results.*, capacity.*, summary.json, figures; return the capacity table."""
    from hopfield_cli.core.models import check_binary

    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    run_dir = resume_dir(cfg, run_dir)
    fixed, metadata = load_fixed_patterns(cfg)
    dims = sweep_dims(cfg, fixed)
    betas = [float(b) for b in (cfg.betas or [cfg.beta])]
    models = list(dict.fromkeys(cfg.models))
    series = [Series(m, b, d) for d in dims for m in models for b in (betas if m in BETA_MODELS else [None])]
    image_side = metadata.get("image_side")
    ctx = {
        "device": device,
        "dtype": dtype,
        "memory_budget": parse_bytes(cfg.memory_budget),
        "image_side": int(image_side) if image_side not in (None, "", "null") else None,
    }
    banks = {d: PatternBank(cfg, d, fixed) for d in dims}
    pattern_norms = {}
    for d, bank in banks.items():  # check inputs before any work: a one-line error, nothing logged
        # a file/memory is checked whole: a value the binary families refuse must not stop the sweep halfway
        first = bank.prefix(0, bank.limit if fixed is not None else min(int(cfg.n_start), bank.limit))
        queries, _ = make_queries(cfg, first, 0, ctx["image_side"])
        for m in models:
            check_binary(first, queries, binarise=bool(cfg.model.binarise), model_name=m)
        pattern_norms[d] = float(bank.prefix(0, min(BLOCK_ROWS, bank.limit)).norm(dim=1).max())
        if (
            fixed is not None
        ):  # generated patterns: duplicates and one-hot weights are what the sweep measures
            warn(meaning_warnings(bank.prefix(0, bank.limit), betas if set(models) & BETA_MODELS else None))
    log = CellLog(run_dir, fingerprint(cfg, metadata))
    resumed, computed = len(log), 0

    budget = {s: series_budget(cfg, banks[s.dim].limit) for s in series}
    all_rows: list[dict[str, Any]] = []
    with cell_progress("capacity-sweep", sum(budget.values())) as bar:
        for d in dims:
            for s in (s for s in series if s.dim == d):
                rows_s: list[dict[str, Any]] = []
                while (n := next_n(pooled_rates(rows_s), cfg, banks[d].limit)) is not None:
                    key = s.key(n)
                    rows = log.get(key)
                    if rows is None:
                        rows = run_cell(cfg, s, n, banks[d], ctx)
                        log.add(key, rows)
                        computed += 1
                    rows_s.extend(rows)
                    budget[s] = max(budget[s], len(pooled_rates(rows_s)) + 1)
                    bar.advance()
                budget[s] = len(pooled_rates(rows_s))
                bar.set_total(sum(budget.values()))
                all_rows.extend(rows_s)
            banks[d].rows = {}  # free this dimension's patterns
    results = pd.DataFrame(all_rows).sort_values(
        ["model", "beta", "dim", "num_patterns", "trial"], na_position="first"
    )
    results = results.reset_index(drop=True)
    write_table(results, run_dir, "results")
    limit = min(b.limit for b in banks.values())
    capacity = capacity_table(results, series, cfg, limit, pattern_norms)
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
        run_dir, "capacity-sweep", int(cfg.seed), device, cells_resumed=resumed, cells_computed=computed
    )
    if cfg.plots:
        from hopfield_cli.plots import save_capacity_vs_dim, save_success_curves

        save_success_curves(run_dir / "success_vs_n.png", results, float(cfg.threshold))
        save_capacity_vs_dim(run_dir / "capacity_vs_dim.png", capacity)
    print_summary(capacity, cfg, seconds, computed, resumed, run_dir)
    return capacity
