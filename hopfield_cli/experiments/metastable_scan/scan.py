"""`hopfield metastable-scan`: where queries end as beta rises, global average -> metastable state -> one pattern.

Ramsauer et al. (2021), Section 2, Lemma A3 and Lemma A12: for beta * m_max^2 < 1 the update (Eq. 3) has one
fixed point near the mean of all patterns (every p_i ~ 1/N); l similar patterns, well separated from the rest,
with beta * m_max(l)^2 <= 1 over those l give a metastable fixed point near their mean; a well-separated pattern
gives a fixed point next to itself (p one-hot). This experiment iterates each query to its fixed point on a
log-spaced beta grid (``beta_scales``) and classifies every fixed point by the paper's own measure k90
(``core.fixed_points``):

- 'single'     k90 == 1: one weight holds >= 90% of the mass;
- 'global'     k90 > N/2: the paper's head class I ("global averaging"); at the global fixed point all p_i ~ 1/N,
               so k90 = ceil(0.9 N) > N/2;
- 'metastable' 1 < k90 <= N/2: the paper's classes II-IV minus the single pattern; k90 is the support size l of
               the metastable state (90% of the mass on l patterns);
- 'unconverged' the query hit update_steps_max before converging: no fixed point, so no kind (counted in the
               table's frac_unconverged, warned about in the summary and drawn in the figures).

Using k90 rather than, say, the distance to the mean keeps the kinds comparable with the attention-head classes
of the paper's BERT study (`hopfield attention-heads`), which use the same k.

Every finished beta is appended to ``cells.jsonl`` at once (``resume.CellLog``), so an interrupted scan resumes
where it stopped; ``fixed_points.parquet/csv`` holds one row per (beta, query), ``betas.parquet/csv`` one row per
beta (``metastable_table``), ``summary.json`` the theoretical scales and the betas where the dominant kind changes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hopfield_cli.config.commands import MetastableScanConfig
from hopfield_cli.core.budget import resolve_budget
from hopfield_cli.core.fixed_points import KINDS, converged_kinds, fixed_point_kind
from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.experiments import footprint as fp
from hopfield_cli.experiments.beta_scales import beta_grid, beta_scales
from hopfield_cli.experiments.metastable_scan.table import (
    dominant_changes,
    per_beta_table,
    print_summary,
    save_figures,
    scan_setting,
    unconverged_warnings,
)
from hopfield_cli.experiments.patterns import device_and_dtype
from hopfield_cli.experiments.queries import corrupted, random_points
from hopfield_cli.experiments.resume import CellLog, fingerprint, work_folder
from hopfield_cli.experiments.scan_patterns import ScanPatterns, load_scan_patterns
from hopfield_cli.experiments.scoring import score
from hopfield_cli.experiments.threads import problem_threads
from hopfield_cli.experiments.warnings import meaning_warnings, warn
from hopfield_cli.report.console import cell_progress
from hopfield_cli.report.files import write_json, write_run_info, write_table

log = logging.getLogger(__name__)

COMMAND = "metastable-scan"
SCAN_ROW_BYTES = 2048  # one result row kept as a Python dict of ~15 values for resume
QUERY_STEM = "fixed_points"
BETA_STEM = "betas"
# The config fields that decide the numbers (device, plots, memory_budget and resume do not).
RESULT_FIELDS = (
    "patterns",
    "corruption",
    "num_patterns",
    "dim",
    "clusters",
    "cluster_spread",
    "memory",
    "normalise",
    "binarise",
    "queries",
    "num_queries",
    "update_steps_max",
    "eps",
    "seed",
    "dtype",
)


def footprint(cfg: MetastableScanConfig) -> list[fp.Term]:
    """The patterns (with their float64 statistics and the run's dtype copy), the queries, every result row,
    the nearest-pattern search and the modern network's working arrays (``experiments.footprint``)."""
    b = cfg.num_queries
    src = fp.source(cfg)
    n, d = src.n, src.d
    return [
        src.term(),
        *fp.prepare_terms(cfg, src),
        fp.stats_term(src.field, n, d),
        fp.Term(src.field, n * d * (8 if cfg.dtype == "float64" else 0), "the run's float64 copy"),
        fp.queries_term(b, d, cfg.update_steps_max),
        fp.Term(
            "num_queries",
            b * cfg.num_betas * SCAN_ROW_BYTES,
            f"{b:,} queries x {cfg.num_betas} betas of rows",
        ),
        fp.nearest_term(n),
        *fp.model_terms("modern", n, d, b, cfg, src.field),
    ]


def make_queries(
    cfg: MetastableScanConfig, data: ScanPatterns, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Queries (B, d) in the patterns' held dtype (float64 in a float64 scan, the default) and their target
    pattern ids (B,; -1 for random queries).

    corrupted: stored patterns in shuffled rounds, corrupted by ``cfg.corruption``; random: points spread like
    the patterns themselves (``queries.random_points``).
    """
    b = cfg.num_queries
    if cfg.queries == "random":
        return random_points(data.patterns, b, generator), torch.full((b,), -1, dtype=torch.int64)
    return corrupted(data.patterns, cfg.corruption, b, generator, data.image_side)


def scan_beta(
    beta: float,
    data: ScanPatterns,
    queries: torch.Tensor,
    target_ids: torch.Tensor,
    cfg: MetastableScanConfig,
    device: torch.device,
    dtype: torch.dtype,
    memory_budget: int,
) -> list[dict[str, Any]]:
    """Iterate every query to its fixed point at ``beta`` (Eq. 3); one row per query (module docstring)."""
    x = data.patterns.to(device=device, dtype=dtype)
    n = x.shape[0]
    model = ModernHopfield(beta, memory_budget=memory_budget)
    scored = score(model, x, queries, target_ids, update_steps_max=cfg.update_steps_max, eps=cfg.eps)
    res, states = scored.result, scored.states
    dist_mean = (states - x.to(states.dtype).mean(dim=0)).norm(dim=1)
    last = res.steps.clamp_max(res.energies.shape[1] - 1).to(res.energies.device)
    energy = res.energies.gather(1, last[:, None])[:, 0]  # Eq. 2 at the fixed point
    codes = fixed_point_kind(res.k90, n)
    b = states.shape[0]
    rows: dict[str, Any] = {
        "beta": [beta] * b,
        "query_id": list(range(b)),
        "target_id": target_ids.tolist(),
        "k90": res.k90.tolist(),
        "kind": converged_kinds([KINDS[c] for c in codes.tolist()], res.converged.tolist()),
        "max_weight": res.max_weight.double().tolist(),
        "nearest_id": scored.nearest_ids.tolist(),
        "dist_nearest": scored.nearest_distance.double().tolist(),
        "dist_mean": dist_mean.double().tolist(),
        "energy": energy.double().tolist(),
        "steps": res.steps.tolist(),
        "converged": res.converged.tolist(),
    }
    if res.k90_cap is not None:
        rows["k90_capped_at"] = [res.k90_cap] * b
    if data.cluster_ids is not None:
        rows.update(
            _cluster_columns(beta, x, states, data.cluster_ids.to(device), scored.nearest_ids, target_ids)
        )
    return [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)]


def _cluster_columns(
    beta: float,
    x: torch.Tensor,
    states: torch.Tensor,
    cluster_ids: torch.Tensor,
    nearest_id: torch.Tensor,
    target_ids: torch.Tensor,
) -> dict[str, list]:
    """Cluster of the nearest pattern, distance to that cluster's mean, and the softmax mass on that cluster
    (Lemma A12: a metastable state puts its mass on one cluster and sits near its mean)."""
    work = torch.promote_types(x.dtype, torch.float32)
    n_clusters = int(cluster_ids.max()) + 1
    onehot = torch.nn.functional.one_hot(cluster_ids, n_clusters).to(work)  # (N, C)
    means = (onehot.T @ x.to(work)) / onehot.sum(dim=0)[:, None]  # (C, d)
    cluster = cluster_ids[nearest_id]  # (B,)
    dist = (states.to(work) - means[cluster]).norm(dim=1)
    mass = torch.empty(states.shape[0], dtype=work, device=x.device)
    chunk = max(1, (1 << 22) // x.shape[0])  # (chunk, N) score blocks of at most 4M entries
    for start in range(0, states.shape[0], chunk):
        p = torch.softmax(beta * (states[start : start + chunk].to(work) @ x.to(work).T), dim=1)  # (b, N)
        mass[start : start + chunk] = (p @ onehot).gather(1, cluster[start : start + chunk, None])[:, 0]
    target_cluster = torch.where(target_ids >= 0, cluster_ids.cpu()[target_ids.clamp_min(0)], -1)
    return {
        "target_cluster": target_cluster.tolist(),
        "cluster_id": cluster.tolist(),
        "dist_cluster_mean": dist.double().tolist(),
        "cluster_mass": mass.double().tolist(),
    }


def run(cfg: MetastableScanConfig, run_dir: Path) -> pd.DataFrame:
    """Scan beta, resuming in ``cfg.resume`` when set; returns the per-beta table."""
    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    budget = resolve_budget(cfg.budget_bytes, device)
    generator = torch.Generator().manual_seed(cfg.seed)
    data = load_scan_patterns(cfg, generator)
    queries, target_ids = make_queries(cfg, data, generator)
    scales = beta_scales(data)
    betas = beta_grid(cfg, scales)
    warn(meaning_warnings(data.patterns, [betas[-1]] if cfg.beta_max is not None else None))
    work_dir = work_folder(cfg.resume, run_dir)
    checksum = data.metadata.get("checksum") if cfg.memory is not None else None
    cells = CellLog(
        work_dir,
        fingerprint(cfg, RESULT_FIELDS, command=COMMAND, betas=betas, memory_checksum=checksum),
        stem=QUERY_STEM,
    )
    if len(cells):
        log.info("resuming in %s: %d of %d betas already done", work_dir, len(cells), len(betas))
    work = data.patterns.numel() * queries.shape[0]  # the scan is hundreds of (B x d) @ (d x N) products
    with cell_progress(COMMAND, total=len(betas)) as bar, problem_threads(device, work):
        for i, beta in enumerate(betas):
            key = {"beta_index": i, "beta": beta}
            bar.begin(f"beta={beta:.3g} ({i + 1} of {len(betas)})")
            if cells.get(key) is None:
                rows = scan_beta(beta, data, queries, target_ids, cfg, device, dtype, budget)
                cells.add(key, [{"beta_index": i, **r} for r in rows])
            bar.advance()
    per_query = cells.frame().sort_values(["beta_index", "query_id"], kind="stable").reset_index(drop=True)
    per_beta = per_beta_table(per_query, scales.m_max)
    changes = dominant_changes(per_beta)
    write_table(per_beta, work_dir, BETA_STEM)
    n, d = data.patterns.shape
    summary = {
        "num_patterns": n,
        "dim": d,
        "betas": betas,
        "scales": asdict(scales),
        "dominant_changes": changes,
        "unconverged_queries": int((per_beta["frac_unconverged"] * per_beta["num_queries"]).round().sum()),
    }
    write_json(work_dir / "summary.json", summary)
    if cfg.plots:
        cluster_size = n / cfg.clusters if cfg.clusters else None
        save_figures(work_dir, per_beta, scales, n, scan_setting(cfg, n, d), cluster_size=cluster_size)
    seconds = time.perf_counter() - started
    write_run_info(work_dir, COMMAND, cfg.seed, device, seconds=seconds, hydra_run_dir=str(run_dir))
    print_summary(per_beta, scales, changes, n, seconds)
    warn(unconverged_warnings(per_beta, cfg.update_steps_max))
    return per_beta
