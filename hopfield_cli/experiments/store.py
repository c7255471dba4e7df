"""`hopfield store`: make or load N patterns, save ONE safetensors memory file, summarise separation."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from hopfield_cli.experiments.common import build_patterns, device_and_dtype, meaning_warnings, warn
from hopfield_cli.experiments.memory_stats import memory_stats
from hopfield_cli.output import console, key_value_table, write_json, write_run_info


def run(cfg: Any, run_dir: Path) -> Path:
    """Build the memory, write it (atomically) and a summary; return the memory file's path."""
    from hopfield_cli.data.memory_file import save_memory

    started = time.perf_counter()
    device, _ = device_and_dtype(cfg)
    generator = torch.Generator().manual_seed(int(cfg.seed))
    pattern_set = build_patterns(cfg, generator)
    patterns = pattern_set.patterns
    warn(meaning_warnings(patterns))
    out = Path(cfg.out).expanduser() if cfg.out else run_dir / "memory.safetensors"
    metadata = dict(pattern_set.metadata, seed=int(cfg.seed), beta_for_summary=float(cfg.beta))
    out = save_memory(out, patterns, metadata)
    stats = memory_stats(patterns, float(cfg.beta), device)
    stats.update(memory_file=str(out), seconds=round(time.perf_counter() - started, 3))
    write_json(run_dir / "summary.json", stats)
    write_run_info(run_dir, "store", int(cfg.seed), device)
    rows = [
        ("source", pattern_set.metadata["source"]),
        ("N (patterns)", stats["num_patterns"]),
        ("d (dimension)", stats["dim"]),
        ("M = max ||x_i||", stats["M"]),
        (
            "Delta_min (separation)" + (" [sampled]" if stats["separation_sampled"] else ""),
            stats["delta_min"],
        ),
        (
            f"well separated at beta={cfg.beta:g}",
            f"{stats['well_separated']:,} / {stats['separation_rows']:,}",
        ),
        ("global fixed point (beta m_max^2 < 1)", stats["global_fixed_point"]),
        ("memory file", str(out)),
    ]
    console.print(key_value_table("hopfield store", rows))
    return out
