"""The capacity sweep's stored patterns: prefixes of one stream per (d, trial), correlated across blocks."""

from __future__ import annotations

import math

import pytest
import torch

from hopfield_cli.experiments.capacity_sweep.bank import BLOCK_ROWS, PatternBank, derived_seed, generator
from tests.conftest import compose


def make_cfg(*overrides: str):
    return compose("capacity_sweep", "plots=false", *overrides)


@pytest.mark.parametrize("source", ["binary", "gaussian", "sphere", "correlated"])
def test_pattern_bank_prefixes_are_consistent(source):
    cfg = make_cfg(f"patterns={source}", "n_max=100000")
    grown = PatternBank(cfg, 16, None)
    big = grown.prefix(1, 9000)  # three blocks
    fresh = PatternBank(cfg, 16, None)
    assert torch.equal(fresh.prefix(1, 5000), big[:5000])
    assert not torch.equal(fresh.prefix(0, 100), big[:100])  # trials are independent pattern sets
    if source == "correlated":  # one prototype per trial across blocks: overlap ~ rho everywhere
        overlap = (big[:4096] @ big[4096:8192].T).mean() / 16
        assert abs(float(overlap) - float(cfg.patterns.correlation)) < 0.05


def test_derived_seeds_are_pinned():
    """Every sweep's patterns and queries hang on these seeds: a change here changes every published number."""
    assert derived_seed(0, "patterns", 16, 0, 0) == 35609642510762462
    assert derived_seed(0, "queries", 64, 1, 100) == 5148046986959326846


@pytest.mark.parametrize("entries", ["binary", "gaussian"])
def test_correlated_blocks_are_the_earlier_sweeps_patterns(entries):
    """data.patterns.correlated with the trial's prototype draws what the sweep's own copy drew before."""
    rho, d, seed, trial = 0.3, 12, 5, 2
    cfg = make_cfg(
        "patterns=correlated", f"patterns.entries={entries}", f"patterns.correlation={rho}", f"seed={seed}"
    )
    bank = PatternBank(cfg, d, None)
    for block in (0, 1):
        gen = generator(seed, "patterns", d, trial, block)
        proto_gen = generator(seed, "prototype", d, trial)
        if entries == "binary":
            prototype = torch.randint(0, 2, (1, d), generator=proto_gen).float() * 2 - 1
            copies = torch.rand(BLOCK_ROWS, d, generator=gen) < math.sqrt(rho)
            fresh = torch.randint(0, 2, (BLOCK_ROWS, d), generator=gen).float() * 2 - 1
            expected = torch.where(copies, prototype, fresh)
        else:
            z0 = torch.randn(1, d, generator=proto_gen)
            expected = math.sqrt(rho) * z0 + math.sqrt(1.0 - rho) * torch.randn(BLOCK_ROWS, d, generator=gen)
        assert torch.equal(bank.block(trial, block), expected)
    assert torch.equal(bank.prefix(trial, BLOCK_ROWS + 7)[BLOCK_ROWS:], bank.block(trial, 1)[:7])


def test_normalise_and_binarise_act_on_the_stored_prefix():
    cfg = make_cfg("patterns=gaussian", "normalise=unit", "binarise=true")
    rows = PatternBank(cfg, 8, None).prefix(0, 50)
    assert rows.dtype == torch.float32 and rows.shape == (50, 8)
    assert bool((rows.abs() == 1).all())


def test_a_fixed_matrix_is_shared_by_every_trial():
    fixed = torch.arange(24, dtype=torch.float32).reshape(6, 4)
    bank = PatternBank(make_cfg(), 4, fixed)
    assert bank.limit == 6
    assert torch.equal(bank.prefix(0, 3), fixed[:3]) and torch.equal(bank.prefix(4, 3), fixed[:3])


def test_growing_n_never_copies_the_drawn_rows():
    """Each block is drawn once into one buffer (sized for the bank's limit, its pages touched as rows
    are drawn), so a larger N views the same memory instead of concatenating what was drawn."""
    from types import SimpleNamespace

    from hopfield_cli.experiments.capacity_sweep.bank import BLOCK_ROWS, PatternBank

    cfg = SimpleNamespace(
        patterns=SimpleNamespace(name="gaussian"),
        seed=0,
        n_max=5 * BLOCK_ROWS,
        normalise="none",
        binarise=False,
    )
    bank = PatternBank(cfg, 8, None)
    small = bank.prefix(0, 10)
    large = bank.prefix(0, 3 * BLOCK_ROWS + 5)
    assert large.data_ptr() == small.data_ptr() and torch.equal(large[:10], small)
    fresh = PatternBank(cfg, 8, None).prefix(0, 3 * BLOCK_ROWS + 5)
    assert torch.equal(fresh, large)
