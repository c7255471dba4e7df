"""The theory scales of a metastable scan (Section 2, Lemma A3, Lemma A12) and its beta grid."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from hopfield_cli.config.commands import MetastableScanConfig
from hopfield_cli.config.options import GaussianPatterns, NoiseCorruption
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.beta_scales import (
    BETA_MAX_FACTOR,
    BETA_MIN_FACTOR,
    BetaScales,
    beta_grid,
    beta_scales,
    well_separated_beta,
)
from hopfield_cli.experiments.scan_patterns import ScanPatterns, load_scan_patterns

CFG = MetastableScanConfig(patterns=GaussianPatterns(), corruption=NoiseCorruption(), device="cpu")


def test_well_separated_beta_is_the_root_of_the_condition():
    from hopfield_cli.core.theory import well_separated_threshold

    beta = well_separated_beta(30.0, 64, 10.0)
    assert 30.0 >= well_separated_threshold(64, beta, 10.0)
    assert 30.0 < well_separated_threshold(64, beta * 0.999, 10.0)
    assert well_separated_beta(-1.0, 64, 10.0) == math.inf


def test_scales_of_plain_and_clustered_patterns():
    x = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 3.0]])
    scales = beta_scales(ScanPatterns(x, {}))
    mean = x.mean(dim=0)
    assert scales.m_max == pytest.approx(float((x - mean).norm(dim=1).max()))
    assert scales.beta_global == pytest.approx(1 / scales.m_max**2)
    assert math.isnan(scales.beta_cluster_separated) and scales.upper == scales.beta_separated

    data = load_scan_patterns(replace(CFG, clusters=4, num_patterns=32), torch.Generator().manual_seed(0))
    assert data.cluster_ids.tolist() == [i % 4 for i in range(32)] and data.centres.shape == (4, 64)
    scales = beta_scales(data)
    assert math.isfinite(scales.beta_cluster_separated) and math.isfinite(scales.beta_cluster_internal)
    assert scales.upper == max(scales.beta_cluster_separated, scales.beta_cluster_internal)


def test_grid_spans_the_scales_log_spaced():
    scales = BetaScales(
        m_max=2.0, beta_global=0.25, separation_min=1.0, never_separated=0, beta_separated=3.0
    )
    betas = beta_grid(replace(CFG, num_betas=5), scales)
    assert betas[0] == pytest.approx(BETA_MIN_FACTOR * 0.25) and betas[-1] == pytest.approx(
        BETA_MAX_FACTOR * 3
    )
    ratios = [b / a for a, b in zip(betas[:-1], betas[1:], strict=True)]
    assert max(ratios) == pytest.approx(min(ratios))
    assert beta_grid(replace(CFG, num_betas=3, beta_min=1.0, beta_max=4.0), scales) == pytest.approx(
        [1, 2, 4]
    )
    assert beta_grid(replace(CFG, num_betas=1, beta_min=0.5), scales) == [0.5]


def test_grid_refuses_what_the_data_cannot_give():
    equal = BetaScales(0.0, math.inf, 0.0, 2, math.inf)
    with pytest.raises(UsageError) as info:
        beta_grid(CFG, equal)
    assert info.value.field == "beta_min" and "m_max = 0" in info.value.message
    assert beta_grid(replace(CFG, num_betas=2, beta_min=1.0, beta_max=2.0), equal) == [1.0, 2.0]
    scales = BetaScales(2.0, 0.25, 1.0, 0, 3.0)
    with pytest.raises(UsageError) as info:  # beta_max set below the beta_min the data gives
        beta_grid(replace(CFG, beta_max=0.01), scales)
    assert info.value.field == "beta_max"


def test_clusters_need_as_many_source_patterns(tmp_path):
    import numpy as np

    from hopfield_cli.config.options import FilePatterns

    np.save(tmp_path / "x.npy", np.eye(3, dtype=np.float32))
    cfg = replace(CFG, patterns=FilePatterns(path=str(tmp_path / "x.npy")), clusters=4)
    with pytest.raises(UsageError) as info:
        load_scan_patterns(cfg, torch.Generator().manual_seed(0))
    assert info.value.field == "clusters" and "only 3 patterns" in info.value.message
