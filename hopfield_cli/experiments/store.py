"""`hopfield store`: make or load N patterns, save ONE safetensors memory file, summarise separation.

The summary is what Ramsauer et al. (2021) use to predict retrieval: M = max ||x_i||, the separation
Delta_i = x_i.x_i - max_{j != i} x_i.x_j (Section 2), how many patterns are well separated at the chosen beta
(Delta_i >= 2/(beta N) + (1/beta) log(2 (N-1) N beta M^2), Theorem 4's setting) and whether beta m_max^2 < 1
leaves a single global fixed point (Lemma A3); see ``memory_stats``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from hopfield_cli.experiments import footprint as fp
from hopfield_cli.experiments.memory_stats import memory_stats
from hopfield_cli.experiments.patterns import build_patterns, device_and_dtype
from hopfield_cli.experiments.warnings import meaning_warnings, warn
from hopfield_cli.report.console import key_value_table, say, show
from hopfield_cli.report.files import write_json, write_run_info


def footprint(cfg: Any) -> list[fp.Term]:
    """The patterns as drawn or read, then the summary's statistics, the duplicate check and the memory file's
    writing and checksum, all in blocks (``experiments.footprint``)."""
    src = fp.source(cfg)
    n, d = src.n, src.d
    return [
        src.term(),
        fp.stats_term(src.field, n, d),
        *fp.prepare_terms(cfg, src),
    ]


def run(cfg: Any, run_dir: Path) -> Path:
    """Build the memory, write it (atomically) and a summary; return the memory file's path.

    A dtype=float64 run writes a float64 memory (nothing narrowed from a float64 file); else float32."""
    from hopfield_cli.data.memory_file import save_memory

    started = time.perf_counter()
    device, _ = device_and_dtype(cfg)
    generator = torch.Generator().manual_seed(cfg.seed)
    pattern_set = build_patterns(cfg, generator)
    patterns = pattern_set.patterns
    warn(meaning_warnings(patterns))
    out = Path(cfg.out).expanduser() if cfg.out else run_dir / "memory.safetensors"
    metadata = dict(pattern_set.metadata, source=cfg.patterns.name, seed=cfg.seed, beta_for_summary=cfg.beta)
    out = save_memory(out, patterns, metadata, field="out")
    stats = memory_stats(patterns, cfg.beta, device)
    stored = "float64" if patterns.dtype == torch.float64 else "float32"
    stats.update(memory_file=str(out), stored_dtype=stored, seconds=round(time.perf_counter() - started, 3))
    write_json(run_dir / "summary.json", stats)
    write_run_info(run_dir, "store", cfg.seed, device)
    print_summary(stats, cfg.patterns.name, cfg.beta, str(out))
    return out


def print_summary(stats: dict[str, Any], source: str, beta: float, out: str) -> None:
    """The memory's size and separation, and its two beta scales (global averaging below 1/m_max^2; every
    pattern its own fixed point from the well-separated beta on), which say what beta to retrieve with."""
    sampled = f" (sample of {stats['separation_rows']:,} rows)" if stats["separation_sampled"] else ""
    never = stats["never_separated"]
    rows = [
        ("source", source),
        ("N x d", f"{stats['num_patterns']:,} x {stats['dim']:,}"),
        ("M = max ||x_i||", stats["M"]),
        ("m_max = max ||x_i - mean||", stats["m_max"]),
        (f"Delta_min (separation){sampled}", stats["delta_min"]),
        ("beta: averaging below 1/m_max^2", stats["beta_global"]),
        ("beta: well separated from", stats["beta_separated"]),
        (f"well separated at beta={beta:g}", f"{stats['well_separated']:,} / {stats['separation_rows']:,}"),
        ("global fixed point (beta m_max^2 < 1)", stats["global_fixed_point"]),
        ("memory file", f"{out} ({stats.get('stored_dtype', 'float32')})"),
    ]
    if never:
        rows.insert(7, ("never well separated (Delta_i <= 0)", f"{never:,} / {stats['separation_rows']:,}"))
    show(key_value_table("hopfield store", rows))
    if stats["mean_norm"] > 0.5 * stats["m_max"]:
        say(
            f"note: the patterns share a large mean (||mean|| = {stats['mean_norm']:.3g}, m_max = "
            f"{stats['m_max']:.3g}); normalise=center removes it, so that a masked query is not drawn to "
            "the patterns with the most overlap with everything (images: see the README)"
        )
