"""`hopfield retrieve`: corrupt stored patterns (or read queries), run a model, one row per query.

Each query is updated by the chosen family until it converges (the modern network: xi <- X softmax(beta X^T xi),
Ramsauer et al. 2021, Eq. 3) and scored against its target (``scoring.score``). The kind of fixed point it
reached comes from the paper's k (Section 4): the number of largest softmax weights holding 90% of the mass
(``core.fixed_points``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hopfield_cli.config import option_text
from hopfield_cli.experiments import footprint as fp
from hopfield_cli.experiments import queries as query_maker
from hopfield_cli.experiments.families import has_beta, make_model
from hopfield_cli.experiments.patterns import device_and_dtype, load_or_build
from hopfield_cli.experiments.query_blocks import score_in_blocks
from hopfield_cli.experiments.scoring import Scored
from hopfield_cli.experiments.warnings import meaning_warnings, warn
from hopfield_cli.report.console import key_value_table, show
from hopfield_cli.report.files import write_json, write_run_info, write_table

# The run's identity first (model, beta, corruption), so tables of many runs concatenate without a join.
RUN_COLUMNS = ["model", "beta", "corruption"]
RESULT_COLUMNS = [
    *RUN_COLUMNS,
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


def num_queries(cfg: Any, n: int) -> int:
    """Queries made from stored patterns: ``num_queries``, or min(N, 1000) when it is null."""
    return cfg.num_queries if cfg.num_queries is not None else min(n, 1000)


def footprint(cfg: Any) -> list[fp.Term]:
    """Patterns (drawn, or read: their size from the file's header), queries with their states, energies and
    rows, the duplicate check, the nearest-pattern search and the family's working arrays."""
    src = fp.source(cfg)
    n, d = src.n, src.d
    terms = [src.term(), *fp.prepare_terms(cfg, src)]
    if cfg.queries_file is not None:
        from hopfield_cli.data.readers import header_info

        shape, _ = header_info(cfg.queries_file, "queries_file", ("queries", "patterns"))
        b = int(shape[0]) if shape else 0
        terms.append(fp.Term("queries_file", b * d * fp.LOAD_BYTES["wide"], f"{b:,} x {d:,} queries read"))
    else:
        b = num_queries(cfg, n)
    terms += [
        fp.duplicate_term(src.field, n, d),
        fp.queries_term(b, d, cfg.update_steps_max),
        fp.nearest_term(n),
    ]
    return terms + fp.model_terms(cfg.model.name, n, d, b, cfg, src.field)


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Retrieve every query; write results.parquet/csv, summary.json and (for images) a PNG grid."""
    from hopfield_cli.core.models import BINARY_MODELS, check_binary

    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    pattern_set = load_or_build(cfg, generator)
    patterns = pattern_set.patterns
    n, d = patterns.shape
    if cfg.queries_file is not None:
        queries, target_ids = query_maker.from_files(cfg.queries_file, cfg.targets_file, n, d, dtype)
    else:
        queries, target_ids = query_maker.corrupted(
            patterns, cfg.corruption, num_queries(cfg, n), generator, pattern_set.image_side
        )
    warn(meaning_warnings(patterns, [cfg.beta] if has_beta(cfg.model.name) else None))
    if cfg.model.name in BINARY_MODELS:
        patterns, queries = check_binary(patterns, queries, binarise=cfg.binarise, model_name=cfg.model.name)
    model = make_model(cfg.model, cfg.beta, cfg.seed, cfg.budget_bytes, "model")

    x = patterns.to(device=device, dtype=dtype)
    scored = score_in_blocks(  # a long pass in blocks of queries, with a progress bar
        model,
        x,
        queries.to(device=device, dtype=dtype),
        target_ids,
        update_steps_max=cfg.update_steps_max,
        eps=cfg.eps,
        criterion=cfg.success,
        tol=cfg.success_tol,
    )
    run_ids = {
        "model": cfg.model.name,
        "beta": cfg.beta if has_beta(cfg.model.name) else float("nan"),
        "corruption": "queries_file" if cfg.queries_file is not None else option_text(cfg.corruption),
    }
    table = result_table(scored, x, run_ids)
    write_table(table, run_dir, "results")
    summary = summarise(table, cfg, n, d, time.perf_counter() - started, scored.result.k90_cap)
    write_json(run_dir / "summary.json", summary)
    write_run_info(run_dir, "retrieve", cfg.seed, device)
    if pattern_set.image_side is not None:
        centred = "center" in (pattern_set.metadata.get("normalisation"), cfg.normalise) or "standard" in (
            pattern_set.metadata.get("normalisation"),
            cfg.normalise,
        )
        save_grid(run_dir, cfg, queries, scored, x, table, pattern_set.image_side, centred)
    print_summary(summary)
    if summary["unconverged"]:
        warn(
            [
                f"update_steps_max: {summary['unconverged']:,} of {summary['num_queries']:,} queries stopped after "
                f"{cfg.update_steps_max} steps without converging; they are labelled 'unconverged', not "
                "given a kind (raise update_steps_max)"
            ]
        )
    return table


GRID_FILE = "retrieval_grid.npz"  # the grid's images, for a sweep's figure with a row per beta


def grid_setting(n: int, side: int, centred: bool) -> str:
    return f"memory: {n} images of {side} x {side}" + (
        "; centred (normalise=center): gray is the mean image" if centred else ""
    )


def save_grid(
    run_dir: Path,
    cfg: Any,
    queries: torch.Tensor,
    scored: Scored,
    x: torch.Tensor,
    table: pd.DataFrame,
    side: int,
    centred: bool,
) -> None:
    """retrieval_grid.png (query / retrieved / target, each row marked retrieved or not) and its images in
    retrieval_grid.npz, from which a beta sweep's merge draws one row per beta (``report.sweep_figures``)."""
    import numpy as np

    from hopfield_cli.report import figures
    from hopfield_cli.report.files import atomic_write

    rows = min(cfg.grid_rows, queries.shape[0])
    grid = {
        "query": queries[:rows].float().cpu(),
        "retrieved": scored.states[:rows].float().cpu(),
        "target": x.to(scored.states.dtype)[scored.target_ids][:rows].float().cpu(),
    }
    ok = table["success"].head(rows).astype(bool).tolist()
    kinds = table["kind"].head(rows).astype(str).tolist()
    beta = f"beta = {cfg.beta:g}, " if has_beta(cfg.model.name) else ""
    figures.save_image_grid(
        run_dir / "retrieval_grid.png",
        *grid.values(),
        side=side,
        max_rows=rows,
        row_labels=[f"query {i}\n{kind}" for i, kind in enumerate(kinds)],
        ok=ok,
        title=(  # the whole run's count (the rows are only the first queries)
            f"{cfg.model.name}, {beta}{option_text(cfg.corruption)}: {int(table['success'].sum()):,} of "
            f"{len(table):,} images retrieved" + (f"; first {rows} shown" if rows < len(table) else "")
        ),
        setting=grid_setting(x.shape[0], side, centred),
    )
    arrays = {k: v.numpy() for k, v in grid.items()}
    arrays.update(success=np.array(ok), kind=np.array(kinds), side=np.array(side), centred=np.array(centred))
    atomic_write(run_dir / GRID_FILE, lambda tmp: _savez(tmp, arrays))


def _savez(tmp: str, arrays: dict[str, Any]) -> None:
    import numpy as np

    with open(tmp, "wb") as fh:  # a file object: np.savez would add .npz to a name without it
        np.savez(fh, **arrays)


def result_table(scored: Scored, patterns: torch.Tensor, run_ids: dict[str, Any]) -> pd.DataFrame:
    """One row per query: the run's ``run_ids`` (model, beta, corruption), target, retrieved pattern, success,
    error, steps, energies, k90 and fixed-point kind."""
    from hopfield_cli.core.fixed_points import converged_kinds, fixed_point_kind

    result, states = scored.result, scored.states
    n = patterns.shape[0]
    if result.k90 is not None:
        kinds = [fixed_point_kind(int(k), n) for k in result.k90.tolist()]
    else:  # binary families have no weights: a state equal to a stored pattern is a single-pattern state
        exact = (states - patterns.to(states.dtype)[scored.nearest_ids]).abs().amax(dim=1) == 0
        kinds = ["single" if e else "spurious" for e in exact.tolist()]
    kinds = converged_kinds(kinds, result.converged.tolist())  # a kind names a fixed point
    energies = result.energies.double()
    last_col = result.steps.clamp_max(energies.shape[1] - 1).to(energies.device)
    no_weights = float("nan")
    return pd.DataFrame(
        {
            **{k: [v] * states.shape[0] for k, v in run_ids.items()},
            "query_id": range(states.shape[0]),
            "target_id": scored.target_ids.cpu().numpy(),
            "retrieved_id": scored.nearest_ids.cpu().numpy(),
            "success": scored.success.cpu().numpy(),
            "error_norm": scored.error_norm.cpu().numpy(),
            "cosine": scored.cosine.cpu().numpy(),
            "steps": result.steps.cpu().numpy(),
            "converged": result.converged.cpu().numpy(),
            "energy_first": energies[:, 0].cpu().numpy(),
            "energy_last": energies.gather(1, last_col[:, None])[:, 0].cpu().numpy(),
            "max_weight": result.max_weight.double().cpu().numpy()
            if result.max_weight is not None
            else no_weights,
            "k90": result.k90.cpu().numpy() if result.k90 is not None else -1,
            "kind": kinds,
        },
        columns=RESULT_COLUMNS,
    )


def summarise(
    table: pd.DataFrame, cfg: Any, n: int, d: int, seconds: float, k90_cap: int | None
) -> dict[str, Any]:
    """summary.json: the success rate by the chosen criterion, errors, steps and the fixed-point kinds."""
    kinds = table["kind"].value_counts().to_dict()
    return {
        "model": cfg.model.name,
        "beta": cfg.beta,
        "corruption": str(table["corruption"].iloc[0]) if len(table) else "",
        "num_patterns": int(n),
        "dim": int(d),
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
        "unconverged": int((~table["converged"].astype(bool)).sum()),
        "k90_cap": k90_cap,
        "seconds": round(seconds, 3),
    }


def print_summary(summary: dict[str, Any]) -> None:
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(summary["kinds"].items()))
    rows = [
        ("model", summary["model"]),
        ("beta", summary["beta"] if has_beta(summary["model"]) else "- (none in this family)"),
        ("corruption", summary["corruption"]),
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
    show(key_value_table("hopfield retrieve", rows))
