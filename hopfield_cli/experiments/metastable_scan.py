"""`hopfield metastable-scan`: where queries end as beta rises, global average -> metastable state -> one pattern.

Ramsauer et al. (2021), Section 2, Lemma A3 and Lemma A12: for beta * m_max^2 < 1 the update has one fixed point
near the mean of all patterns (every p_i ~ 1/N); l similar patterns, well separated from the rest, with
beta * m_max(l)^2 <= 1 over those l give a metastable fixed point near their mean; a well-separated pattern gives a
fixed point next to itself (p one-hot). This experiment iterates each query to its fixed point on a log-spaced
beta grid and classifies every fixed point by the paper's own measure k90 (``core.fixed_points``):

- 'single'     k90 == 1: one weight holds >= 90% of the mass;
- 'global'     k90 > N/2: the paper's head class I ("global averaging"); at the global fixed point all p_i ~ 1/N,
               so k90 = ceil(0.9 N) > N/2;
- 'metastable' 1 < k90 <= N/2: the paper's classes II-IV minus the single pattern; k90 is the support size l of
               the metastable state (90% of the mass on l patterns).

Using k90 rather than, say, the distance to the mean keeps the kinds comparable with the attention-head classes
of the paper's BERT study (``attention=<file>``, see ``experiments.attention_heads``), which use the same k.

The default beta range comes from the data (``beta_scales``): from 0.1 / m_max^2 (well inside the global
regime) to 10x the largest scale at which structure resolves: for plain patterns the beta at which every
pattern with Delta_i > 0 is well separated (SCIENCE.md), for clustered patterns the larger of the beta at which
the cluster centres become well separated and the cluster-internal scale 1 / max_l m_max(l)^2 above which a
cluster's metastable state breaks into its members.

Every finished beta is appended to ``cells.jsonl`` at once (``cells.CellLog``), so an interrupted scan resumes
where it stopped; ``fixed_points.parquet/csv`` holds one row per (beta, query), ``betas.parquet/csv`` one row per
beta, ``summary.json`` the theoretical scales and the betas where the dominant kind changes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from omegaconf import OmegaConf

from hopfield_cli.cells import SWEEP_FILE, CellLog
from hopfield_cli.config import parse_bytes
from hopfield_cli.core import theory
from hopfield_cli.core.fixed_points import KINDS, fixed_point_kind
from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.core.nearest import nearest_patterns
from hopfield_cli.core.streaming import default_memory_budget
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.common import device_and_dtype, load_or_build_patterns, meaning_warnings, warn
from hopfield_cli.output import console, key_value_table, write_json, write_run_info, write_table
from hopfield_cli.progress import cell_progress

log = logging.getLogger(__name__)

BETA_MIN_FACTOR = 0.1  # beta_min = 0.1 / m_max^2: beta m_max^2 = 0.1, well below Lemma A3's bound of 1
BETA_MAX_FACTOR = 10.0  # beta_max = 10 x the largest structural scale (see beta_scales)
SMALL_WORK = 1 << 22  # N * d * B below this: one CPU thread (see _small_problem_threads)
QUERY_STEM = "fixed_points"
BETA_STEM = "betas"


@dataclass
class ScanPatterns:
    """Stored patterns (N, d) float32 on the CPU; for clustered data the cluster of each pattern."""

    patterns: torch.Tensor
    metadata: dict[str, Any]
    cluster_ids: torch.Tensor | None = None  # (N,) int64
    centres: torch.Tensor | None = None  # (C, d)


@dataclass
class BetaScales:
    """Data-derived betas of Section 2 / Lemma A3 / Lemma A12 (NaN where they do not apply)."""

    m_max: float  # max_i ||x_i - m_x||
    beta_global: float  # 1 / m_max^2: below it one global fixed point (Lemma A3)
    separation_min: float  # min_i Delta_i
    never_separated: int  # patterns with Delta_i <= 0: no beta makes them well separated
    beta_separated: float  # smallest beta with every pattern of Delta_i > 0 well separated
    beta_cluster_separated: float = math.nan  # the same for the cluster centres
    beta_cluster_internal: float = math.nan  # 1 / max_l m_max(l)^2 over the clusters (Lemma A12)

    @property
    def upper(self) -> float:
        """The largest scale at which structure resolves; beta_max defaults to BETA_MAX_FACTOR times it."""
        if math.isfinite(self.beta_cluster_separated):
            return max(self.beta_cluster_separated, _finite_or(self.beta_cluster_internal, 0.0))
        return self.beta_separated


def _finite_or(value: float, default: float) -> float:
    return value if math.isfinite(value) else default


# ------------------------------------------------------------------------------------------------ patterns


def load_scan_patterns(cfg: Any, generator: torch.Generator) -> ScanPatterns:
    """The stored patterns: a memory file, the pattern source, or ``clusters`` groups around source centres.

    Clustered: C = ``clusters`` centres c come from the pattern source (normalise/binarise apply to them), and
    pattern i belongs to cluster i mod C: x_i = c + cluster_spread * ||c|| / sqrt(d) * z, z ~ N(0, I), so a
    member lies about cluster_spread * ||c|| from its centre whatever the scale of the source.
    """
    clusters = int(cfg.clusters)
    base_cfg = cfg
    if cfg.memory is None and clusters > 0 and cfg.patterns.source not in ("file", "images"):
        base_cfg = OmegaConf.merge(cfg, {"num_patterns": clusters})
    pattern_set = load_or_build_patterns(base_cfg, generator)
    base, metadata = pattern_set.patterns, dict(pattern_set.metadata)
    if clusters == 0:
        return ScanPatterns(base.to(torch.float32).contiguous(), metadata)
    if clusters > base.shape[0]:
        raise UsageError(
            "clusters", f"needs {clusters} centres but the source holds only {base.shape[0]} patterns"
        )
    n = int(cfg.num_patterns)
    centres = base[:clusters].to(torch.float64)  # (C, d)
    cluster_ids = torch.arange(n) % clusters  # (N,)
    d = centres.shape[1]
    noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
    scale = float(cfg.cluster_spread) * centres.norm(dim=1, keepdim=True) / math.sqrt(d)  # (C, 1)
    patterns = centres[cluster_ids] + scale[cluster_ids] * noise
    metadata.update(clusters=clusters, cluster_spread=float(cfg.cluster_spread), num_patterns=n)
    return ScanPatterns(
        patterns.to(torch.float32).contiguous(), metadata, cluster_ids, centres.to(torch.float32)
    )


def make_queries(
    cfg: Any, data: ScanPatterns, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Queries (B, d) and their target pattern ids (B,; -1 for random queries).

    corrupted: stored patterns in shuffled rounds (every pattern once before any twice), corrupted by
    ``cfg.corruption``. random: m_x + r z / sqrt(d), z ~ N(0, I), r the rms distance of the patterns from their
    mean m_x: points spread like the patterns themselves.
    """
    from hopfield_cli.data.corruption import corrupt

    x = data.patterns
    n, d = x.shape
    b = int(cfg.num_queries)
    if cfg.queries == "random":
        mean = x.double().mean(dim=0)
        rms = float((x.double() - mean).norm(dim=1).pow(2).mean().sqrt())
        z = torch.randn(b, d, generator=generator, dtype=torch.float64)
        return (mean + z * (rms / math.sqrt(d))).to(torch.float32), torch.full((b,), -1, dtype=torch.int64)
    rounds = [torch.randperm(n, generator=generator) for _ in range(-(-b // n))]
    target_ids = torch.cat(rounds)[:b]
    corruption = dict(cfg.corruption)
    if corruption.get("kind") == "mask_lower_half":
        side = data.metadata.get("image_side")
        corruption["side"] = int(side) if side not in (None, "", "null") else None
    return corrupt(x[target_ids], corruption, generator).to(torch.float32), target_ids


# -------------------------------------------------------------------------------------------------- scales


def well_separated_beta(delta: float, n_patterns: int, norm_max: float) -> float:
    """Smallest beta above which Delta >= 2/(beta N) + (1/beta) log(2 (N-1) N beta M^2) holds (Section 2).

    beta * (Delta - threshold(beta)) = beta Delta - 2/N - log(2 (N-1) N M^2) - log(beta) is convex in beta with its
    minimum at 1/Delta, so the condition holds for all beta beyond one root, found by bisection in log beta. (For
    tiny beta the right side turns negative and the condition holds trivially: that branch is ignored.) inf when
    Delta <= 0.
    """
    if n_patterns < 2:
        return 0.0
    if not delta > 0:
        return math.inf

    def holds(beta: float) -> bool:
        return delta >= theory.well_separated_threshold(n_patterns, beta, norm_max)

    lo = hi = 1.0 / delta
    if holds(lo):
        return lo
    while not holds(hi):
        hi *= 2.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if holds(mid) else (mid, hi)
        if hi / lo < 1 + 1e-12:
            break
    return hi


def _separated_beta(patterns: torch.Tensor) -> tuple[float, float, int]:
    """(beta at which every pattern with Delta_i > 0 is well separated, min Delta, count of Delta_i <= 0)."""
    x = patterns.double()
    delta = theory.separation(x)
    norm_max = float(x.norm(dim=1).max())
    positive = delta[delta > 0]
    beta = well_separated_beta(float(positive.min()), x.shape[0], norm_max) if positive.numel() else math.inf
    return beta, float(delta.min()), int((delta <= 0).sum())


def beta_scales(data: ScanPatterns) -> BetaScales:
    """The scales the scan is measured against (module docstring); theory.py supplies Delta and m_max."""
    x = data.patterns.double()
    m_max = theory.mean_spread(x)
    beta_global = 1.0 / m_max**2 if m_max > 0 else math.inf
    beta_separated, delta_min, never = _separated_beta(x)
    scales = BetaScales(m_max, beta_global, delta_min, never, beta_separated)
    if data.cluster_ids is not None and data.centres is not None:
        inner = max(theory.mean_spread(x[data.cluster_ids == c]) for c in range(data.centres.shape[0]))
        centres_beta, _, _ = _separated_beta(data.centres)
        scales = replace(
            scales,
            beta_cluster_separated=centres_beta,
            beta_cluster_internal=1.0 / inner**2 if inner > 0 else math.inf,
        )
    return scales


def beta_grid(cfg: Any, scales: BetaScales) -> list[float]:
    """``num_betas`` log-spaced betas in [beta_min, beta_max]; unset ends come from ``scales``."""
    if not math.isfinite(scales.beta_global) and (cfg.beta_min is None or cfg.beta_max is None):
        raise UsageError(
            "beta_min",
            "all stored patterns are equal, or there is only one (m_max = 0): set beta_min and beta_max yourself",
        )
    beta_min = float(cfg.beta_min) if cfg.beta_min is not None else BETA_MIN_FACTOR * scales.beta_global
    if cfg.beta_max is not None:
        beta_max = float(cfg.beta_max)
    else:
        upper = scales.upper
        if not math.isfinite(upper):  # no pattern can ever be well separated: go far past the global scale
            upper = 100.0 * scales.beta_global
            log.warning("no pattern is ever well separated (all Delta_i <= 0); beta_max = 1000 / m_max^2")
        beta_max = max(BETA_MAX_FACTOR * upper, 10.0 * beta_min)
    if beta_max <= beta_min:
        raise UsageError("beta_max", f"must be > beta_min ({beta_min:.4g}), got {beta_max:.4g}")
    n = int(cfg.num_betas)
    if n == 1:
        return [beta_min]
    ratio = math.log(beta_max / beta_min) / (n - 1)
    return [float(beta_min * math.exp(i * ratio)) for i in range(n)]


# ------------------------------------------------------------------------------------------------- one beta


def scan_beta(
    beta: float,
    data: ScanPatterns,
    queries: torch.Tensor,
    target_ids: torch.Tensor,
    cfg: Any,
    device: torch.device,
    dtype: torch.dtype,
    memory_budget: int,
) -> list[dict[str, Any]]:
    """Iterate every query to its fixed point at ``beta``; one row per query (see the module docstring)."""
    x = data.patterns.to(device=device, dtype=dtype)
    n = x.shape[0]
    model = ModernHopfield(beta, memory_budget=memory_budget)
    res = model.retrieve(
        x,
        queries.to(device=device, dtype=dtype),
        update_steps_max=int(cfg.update_steps_max),
        eps=float(cfg.eps),
    )
    states = res.states
    nearest_id, dist_nearest = nearest_patterns(x, states)
    work = torch.promote_types(dtype, torch.float32)
    mean = x.to(work).mean(dim=0)
    dist_mean = (states.to(work) - mean).norm(dim=1)
    last = res.steps.clamp_max(res.energies.shape[1] - 1).to(res.energies.device)
    energy = res.energies.gather(1, last[:, None])[:, 0]
    codes = fixed_point_kind(res.k90, n)
    rows: dict[str, Any] = {
        "beta": [beta] * states.shape[0],
        "query_id": list(range(states.shape[0])),
        "target_id": target_ids.tolist(),
        "k90": res.k90.tolist(),
        "kind": [KINDS[c] for c in codes.tolist()],
        "max_weight": res.max_weight.double().tolist(),
        "nearest_id": nearest_id.tolist(),
        "dist_nearest": dist_nearest.double().tolist(),
        "dist_mean": dist_mean.double().tolist(),
        "energy": energy.double().tolist(),
        "steps": res.steps.tolist(),
        "converged": res.converged.tolist(),
    }
    if res.k90_cap is not None:
        rows["k90_capped_at"] = [res.k90_cap] * states.shape[0]
    if data.cluster_ids is not None:
        rows.update(_cluster_columns(beta, x, states, data.cluster_ids.to(device), nearest_id, target_ids))
    return [dict(zip(rows, values, strict=True)) for values in zip(*rows.values(), strict=True)]


def _cluster_columns(
    beta: float,
    x: torch.Tensor,
    states: torch.Tensor,
    cluster_ids: torch.Tensor,
    nearest_id: torch.Tensor,
    target_ids: torch.Tensor,
) -> dict[str, list]:
    """Cluster of the nearest pattern, distance to that cluster's mean, and the softmax mass on that cluster."""
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


# ----------------------------------------------------------------------------------------------- summaries


def per_beta_table(queries: pd.DataFrame, m_max: float) -> pd.DataFrame:
    """One row per beta: fraction of each kind, dominant kind, median k90, mean energy and steps."""
    rows = []
    for beta, group in queries.groupby("beta", sort=True):
        fractions = {kind: float((group["kind"] == kind).mean()) for kind in KINDS}
        row = {
            "beta": float(beta),
            "beta_m_max_sq": float(beta) * m_max**2,
            "num_queries": len(group),
            **{f"frac_{kind}": fractions[kind] for kind in ("global", "metastable", "single")},
            "dominant_kind": max(("global", "metastable", "single"), key=lambda k: fractions[k]),
            "median_k90": float(group["k90"].median()),
            "k90_q25": float(group["k90"].quantile(0.25)),
            "k90_q75": float(group["k90"].quantile(0.75)),
            "median_max_weight": float(group["max_weight"].median()),
            "median_dist_mean": float(group["dist_mean"].median()),
            "median_dist_nearest": float(group["dist_nearest"].median()),
            "mean_energy": float(group["energy"].mean()),
            "mean_steps": float(group["steps"].mean()),
            "max_steps": int(group["steps"].max()),
            "frac_converged": float(group["converged"].mean()),
        }
        if "cluster_mass" in group:
            row["median_cluster_mass"] = float(group["cluster_mass"].median())
            row["median_dist_cluster_mean"] = float(group["dist_cluster_mean"].median())
        rows.append(row)
    return pd.DataFrame(rows)


def dominant_changes(per_beta: pd.DataFrame) -> list[dict[str, Any]]:
    """Where the dominant kind changes between neighbouring betas (beta = their geometric mean)."""
    changes = []
    kinds, betas = per_beta["dominant_kind"].tolist(), per_beta["beta"].tolist()
    for i in range(1, len(kinds)):
        if kinds[i] != kinds[i - 1]:
            changes.append(
                {
                    "from": kinds[i - 1],
                    "to": kinds[i],
                    "beta_below": betas[i - 1],
                    "beta_above": betas[i],
                    "beta": math.sqrt(betas[i - 1] * betas[i]),
                }
            )
    return changes


def _fingerprint(cfg: Any, data: ScanPatterns, betas: list[float]) -> dict[str, Any]:
    """Everything that decides the numbers (device excluded: a scan may resume on another device)."""
    keys = (
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
    fp = {k: OmegaConf.to_container(cfg, resolve=True)[k] for k in keys}
    fp.update(
        command="metastable-scan",
        patterns=dict(cfg.patterns),
        corruption=dict(cfg.corruption),
        betas=betas,
        memory_checksum=data.metadata.get("checksum") if cfg.memory is not None else None,
    )
    return fp


@contextmanager
def _small_problem_threads(device: torch.device, work: int) -> Iterator[None]:
    """One CPU thread for small problems, restored afterwards.

    The scan is hundreds of tiny (B x d) @ (d x N) products; with several OpenMP threads each costs more in thread
    start-up and spinning than in arithmetic, and on a busy 2-core machine a 128 x 64 x 64 product went from
    0.1 ms to 3 ms.
    """
    previous = torch.get_num_threads()
    if device.type == "cpu" and work < SMALL_WORK and previous > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _work_dir(cfg: Any, run_dir: Path) -> Path:
    if cfg.resume is None:
        return run_dir
    folder = Path(str(cfg.resume)).expanduser()
    if not folder.is_dir():
        raise UsageError("resume", f"no such run folder: {folder}")
    if not (folder / SWEEP_FILE).exists():
        raise UsageError("resume", f"{folder} is not a metastable-scan run folder (it has no {SWEEP_FILE})")
    return folder


def _print_summary(
    per_beta: pd.DataFrame, scales: BetaScales, changes: list[dict], n: int, seconds: float
) -> None:
    from rich import box
    from rich.table import Table

    table = Table(
        title=f"metastable-scan: fixed-point kinds across beta (N = {n})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="fractions of queries by kind; k90 median; "
        "energy (Eq. 2) and steps mean; conv = fraction converged",
    )
    for name in ("beta", "beta*m_max^2", "global", "metastable", "single", "k90", "energy", "steps", "conv"):
        table.add_column(name, justify="right", no_wrap=True)
    for r in per_beta.itertuples():
        table.add_row(
            f"{r.beta:.3g}",
            f"{r.beta_m_max_sq:.3g}",
            f"{r.frac_global:.2f}",
            f"{r.frac_metastable:.2f}",
            f"{r.frac_single:.2f}",
            f"{r.median_k90:g}",
            f"{r.mean_energy:.4g}",
            f"{r.mean_steps:.1f}",
            f"{r.frac_converged:.2f}",
        )
    console.print(table)
    rows: list[tuple[str, Any]] = [
        ("m_max = max ||x_i - m_x||", scales.m_max),
        ("1 / m_max^2 (global fixed point below)", scales.beta_global),
        ("well separated from (Delta_i > 0 patterns)", scales.beta_separated),
        ("min separation Delta", scales.separation_min),
        ("patterns never well separated (Delta <= 0)", scales.never_separated),
    ]
    if math.isfinite(scales.beta_cluster_separated):
        rows += [
            ("cluster centres well separated from", scales.beta_cluster_separated),
            ("cluster-internal 1 / max m_max(l)^2", scales.beta_cluster_internal),
        ]
    rows += [(f"dominant {c['from']} -> {c['to']} at beta", c["beta"]) for c in changes]
    rows.append(("seconds", seconds))
    console.print(key_value_table("theory scales beside the measured transitions", rows))


# -------------------------------------------------------------------------------------------------------- run


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Scan beta (or classify attention heads when ``attention`` is set); returns the per-beta table."""
    if cfg.attention is not None:
        from hopfield_cli.experiments import attention_heads

        return attention_heads.run(cfg, run_dir)
    started = time.perf_counter()
    device, dtype = device_and_dtype(cfg)
    budget = parse_bytes(cfg.memory_budget) or default_memory_budget(device)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    data = load_scan_patterns(cfg, generator)
    queries, target_ids = make_queries(cfg, data, generator)
    scales = beta_scales(data)
    betas = beta_grid(cfg, scales)
    warn(meaning_warnings(data.patterns, [betas[-1]] if cfg.beta_max is not None else None))
    work_dir = _work_dir(cfg, run_dir)
    cells = CellLog(work_dir, _fingerprint(cfg, data, betas), stem=QUERY_STEM)
    if len(cells):
        log.info("resuming in %s: %d of %d betas already done", work_dir, len(cells), len(betas))
    work = data.patterns.numel() * queries.shape[0]
    with cell_progress("metastable-scan", total=len(betas)) as bar, _small_problem_threads(device, work):
        for i, beta in enumerate(betas):
            key = {"beta_index": i, "beta": beta}
            if cells.get(key) is None:
                rows = scan_beta(beta, data, queries, target_ids, cfg, device, dtype, budget)
                cells.add(key, [{"beta_index": i, **r} for r in rows])
            bar.advance()
    per_query = cells.frame().sort_values(["beta_index", "query_id"], kind="stable").reset_index(drop=True)
    per_beta = per_beta_table(per_query, scales.m_max)
    changes = dominant_changes(per_beta)
    write_table(per_beta, work_dir, BETA_STEM)
    n = data.patterns.shape[0]
    write_json(
        work_dir / "summary.json",
        {
            "num_patterns": n,
            "dim": data.patterns.shape[1],
            "betas": betas,
            "scales": asdict(scales),
            "dominant_changes": changes,
        },
    )
    if cfg.plots:
        _figures(work_dir, per_beta, scales, n)
    seconds = time.perf_counter() - started
    write_run_info(
        work_dir, "metastable-scan", int(cfg.seed), device, seconds=seconds, hydra_run_dir=str(run_dir)
    )
    _print_summary(per_beta, scales, changes, n, seconds)
    return per_beta


def _figures(work_dir: Path, per_beta: pd.DataFrame, scales: BetaScales, n: int) -> None:
    from hopfield_cli import plots

    marks = {"1/m_max^2": scales.beta_global, "well separated": scales.beta_separated}
    if math.isfinite(scales.beta_cluster_separated):
        marks = {
            "1/m_max^2": scales.beta_global,
            "centres separated": scales.beta_cluster_separated,
            "cluster-internal": scales.beta_cluster_internal,
        }
    marks = {k: v for k, v in marks.items() if math.isfinite(v)}
    betas = per_beta["beta"].tolist()
    fractions = {kind: per_beta[f"frac_{kind}"].tolist() for kind in ("global", "metastable", "single")}
    plots.save_kind_fractions(work_dir / "kind_fractions.png", betas, fractions, marks)
    plots.save_k90_vs_beta(
        work_dir / "k90_vs_beta.png",
        betas,
        per_beta["median_k90"].tolist(),
        n,
        marks,
        per_beta["k90_q25"].tolist(),
        per_beta["k90_q75"].tolist(),
    )
