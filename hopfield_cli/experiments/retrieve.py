"""`hopfield retrieve`: corrupt stored patterns (or read queries), run a model, one row per query."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hopfield_cli.config import parse_bytes
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.common import (
    BETA_MODELS,
    PatternSet,
    device_and_dtype,
    load_or_build_patterns,
    make_model,
    meaning_warnings,
    success_mask,
    warn,
)
from hopfield_cli.output import console, key_value_table, write_json, write_run_info, write_table

RESULT_COLUMNS = [
    "query_id",
    "target_id",
    "retrieved_id",
    "success",
    "error_norm",
    "cosine",
    "steps",
    "converged",
    "energy_first",
    "energy_last",
    "max_weight",
    "k90",
    "kind",
]


def make_queries(
    cfg: Any, pattern_set: PatternSet, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Queries (B, d) and their target ids (B,), or None when the targets are to be the nearest patterns."""
    from hopfield_cli.data.corruption import corrupt
    from hopfield_cli.data.loaders import load_matrix

    patterns = pattern_set.patterns
    n, d = patterns.shape
    if cfg.queries_file is not None:
        queries = load_matrix(cfg.queries_file, field="queries_file")
        if queries.shape[1] != d:
            raise UsageError("queries_file", f"queries have d={queries.shape[1]} but the memory has d={d}")
        if cfg.targets_file is None:
            return queries, None
        targets = load_matrix(cfg.targets_file, field="targets_file").reshape(-1)
        if targets.numel() != queries.shape[0]:
            raise UsageError("targets_file", f"holds {targets.numel()} ids for {queries.shape[0]} queries")
        if not torch.equal(targets, targets.round()) or targets.min() < 0 or targets.max() >= n:
            raise UsageError("targets_file", f"ids must be integers in [0, {n - 1}]")
        return queries, targets.long()
    num_queries = cfg.num_queries if cfg.num_queries is not None else min(n, 1000)
    if num_queries <= n:
        target_ids = torch.randperm(n, generator=generator)[:num_queries]
    else:
        target_ids = torch.randint(0, n, (num_queries,), generator=generator)
    corruption = dict(cfg.corruption)
    if corruption.get("kind") == "mask_lower_half":
        corruption["side"] = pattern_set.image_side
    queries = corrupt(patterns[target_ids], corruption, generator)
    return queries, target_ids


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Retrieve every query; write results.parquet/csv, summary.json and (for images) a PNG grid."""
    from hopfield_cli.core.fixed_points import fixed_point_kind
    from hopfield_cli.core.models import BINARY_MODELS, check_binary
    from hopfield_cli.core.nearest import nearest_patterns

    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    pattern_set = load_or_build_patterns(cfg, generator)
    patterns = pattern_set.patterns
    queries, target_ids = make_queries(cfg, pattern_set, generator)
    warn(meaning_warnings(patterns, [float(cfg.beta)] if cfg.model.name in BETA_MODELS else None))
    if cfg.model.name in BINARY_MODELS:
        patterns, queries = check_binary(
            patterns, queries, binarise=bool(cfg.model.binarise), model_name=cfg.model.name
        )
    model = make_model(
        cfg.model.name, float(cfg.beta), cfg.model, int(cfg.seed), parse_bytes(cfg.memory_budget)
    )

    x = patterns.to(device=device, dtype=dtype)
    q = queries.to(device=device, dtype=dtype)
    result = model.retrieve(x, q, update_steps_max=int(cfg.update_steps_max), eps=float(cfg.eps))
    states = result.states.float()
    x32 = x.float()
    retrieved_ids, _ = nearest_patterns(x32, states)
    if target_ids is None:  # queries from a file without targets: the target is the query's nearest pattern
        target_ids, _ = nearest_patterns(x32, q.float())
    target_ids = target_ids.to(device)
    targets = x32[target_ids]
    success = success_mask(cfg.success, cfg.success_tol, states, targets, retrieved_ids, target_ids)
    error_norm = (states - targets).double().norm(dim=1)
    cosine = torch.nn.functional.cosine_similarity(states.double(), targets.double(), dim=1, eps=1e-300)
    n = x.shape[0]
    if result.k90 is not None:
        kinds = [fixed_point_kind(int(k), n) for k in result.k90.tolist()]
    else:  # binary families have no weights: a state equal to a stored pattern is a single-pattern state
        exact = (states - x32[retrieved_ids]).abs().amax(dim=1) == 0
        kinds = ["single" if e else "spurious" for e in exact.tolist()]
    energies = result.energies.double()
    last_col = result.steps.clamp_max(energies.shape[1] - 1).to(energies.device)
    table = pd.DataFrame(
        {
            "query_id": range(q.shape[0]),
            "target_id": target_ids.cpu().numpy(),
            "retrieved_id": retrieved_ids.cpu().numpy(),
            "success": success.cpu().numpy(),
            "error_norm": error_norm.cpu().numpy(),
            "cosine": cosine.cpu().numpy(),
            "steps": result.steps.cpu().numpy(),
            "converged": result.converged.cpu().numpy(),
            "energy_first": energies[:, 0].cpu().numpy(),
            "energy_last": energies.gather(1, last_col[:, None])[:, 0].cpu().numpy(),
            "max_weight": result.max_weight.double().cpu().numpy()
            if result.max_weight is not None
            else float("nan"),
            "k90": result.k90.cpu().numpy() if result.k90 is not None else -1,
            "kind": kinds,
        },
        columns=RESULT_COLUMNS,
    )
    write_table(table, run_dir, "results")
    seconds = time.perf_counter() - started
    summary = summarise(table, cfg, n, x.shape[1], seconds, result.k90_cap)
    write_json(run_dir / "summary.json", summary)
    write_run_info(run_dir, "retrieve", int(cfg.seed), device)
    if pattern_set.image_side is not None:
        from hopfield_cli.plots import save_image_grid

        rows = min(int(cfg.grid_rows), q.shape[0])
        save_image_grid(
            run_dir / "retrieval_grid.png",
            q[:rows].float().cpu(),
            states[:rows].cpu(),
            targets[:rows].cpu(),
            side=pattern_set.image_side,
            max_rows=rows,
        )
    print_summary(summary)
    return table


def summarise(
    table: pd.DataFrame, cfg: Any, n: int, d: int, seconds: float, k90_cap: int | None
) -> dict[str, Any]:
    kinds = table["kind"].value_counts().to_dict()
    return {
        "model": cfg.model.name,
        "beta": float(cfg.beta),
        "num_patterns": n,
        "dim": d,
        "num_queries": int(len(table)),
        "success_criterion": cfg.success,
        "success_rate": float(table["success"].mean()),
        "successes": int(table["success"].sum()),
        "error_mean": float(table["error_norm"].mean()),
        "error_median": float(table["error_norm"].median()),
        "steps_mean": float(table["steps"].mean()),
        "steps_max": int(table["steps"].max()),
        "converged_fraction": float(table["converged"].mean()),
        "kinds": {str(k): int(v) for k, v in kinds.items()},
        "k90_cap": k90_cap,
        "seconds": round(seconds, 3),
    }


def print_summary(summary: dict[str, Any]) -> None:
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["kinds"].items()))
    rows = [
        ("model", summary["model"]),
        ("beta", summary["beta"]),
        ("N x d", f"{summary['num_patterns']:,} x {summary['dim']:,}"),
        ("queries", summary["num_queries"]),
        (
            f"success rate ({summary['success_criterion']})",
            f"{summary['success_rate']:.2%} ({summary['successes']:,}/{summary['num_queries']:,})",
        ),
        ("error ||xi*-x|| mean / median", f"{summary['error_mean']:.4g} / {summary['error_median']:.4g}"),
        ("steps mean / max", f"{summary['steps_mean']:.3g} / {summary['steps_max']}"),
        ("converged", f"{summary['converged_fraction']:.2%}"),
        ("fixed-point kinds", kinds),
        ("wall time (s)", summary["seconds"]),
    ]
    console.print(key_value_table("hopfield retrieve", rows))
