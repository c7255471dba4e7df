"""The stored patterns of a metastable scan: plain, or ``clusters`` groups of similar patterns (Lemma A12).

Lemma A12 of Ramsauer et al. (2021) needs l similar patterns, well separated from the rest, to show a
metastable fixed point near their mean. ``clusters=C`` builds exactly that: C centres from the pattern source
and N patterns around them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch

from hopfield_cli.config.commands import MetastableScanConfig
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.patterns import from_disk, held_dtype, load_or_build


@dataclass
class ScanPatterns:
    """Stored patterns (N, d) on the CPU in the run's held dtype (float32, float64 for a float64 run); for
    clustered data the cluster of each pattern."""

    patterns: torch.Tensor
    metadata: dict[str, Any]
    image_side: int | None = None  # for mask_lower_half queries of image patterns
    cluster_ids: torch.Tensor | None = None  # (N,) int64
    centres: torch.Tensor | None = None  # (C, d)


def load_scan_patterns(cfg: MetastableScanConfig, generator: torch.Generator) -> ScanPatterns:
    """The stored patterns: a memory file, the pattern source, or ``clusters`` groups around source centres.

    Clustered: C = ``clusters`` centres c come from the pattern source (normalise/binarise apply to them), and
    pattern i belongs to cluster i mod C: x_i = c + cluster_spread * ||c|| / sqrt(d) * z, z ~ N(0, I), so a
    member lies about cluster_spread * ||c|| from its centre whatever the scale of the source.
    """
    clusters = cfg.clusters
    source_cfg = cfg
    if cfg.memory is None and clusters > 0 and not from_disk(cfg.patterns):
        source_cfg = replace(cfg, num_patterns=clusters)  # draw only the centres
    source = load_or_build(source_cfg, generator)
    base, metadata = source.patterns, dict(source.metadata)
    held = held_dtype(cfg)
    if clusters == 0:
        return ScanPatterns(base.to(held).contiguous(), metadata, source.image_side)
    if clusters > base.shape[0]:
        raise UsageError(
            "clusters", f"needs {clusters} centres but the source holds only {base.shape[0]} patterns"
        )
    n = cfg.num_patterns
    centres = base[:clusters].to(torch.float64)  # (C, d)
    cluster_ids = torch.arange(n) % clusters  # (N,)
    d = centres.shape[1]
    noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
    scale = cfg.cluster_spread * centres.norm(dim=1, keepdim=True) / math.sqrt(d)  # (C, 1)
    patterns = centres[cluster_ids] + scale[cluster_ids] * noise
    metadata.update(clusters=clusters, cluster_spread=cfg.cluster_spread, num_patterns=n)
    return ScanPatterns(
        patterns.to(held).contiguous(),
        metadata,
        source.image_side,
        cluster_ids,
        centres.to(held),
    )
