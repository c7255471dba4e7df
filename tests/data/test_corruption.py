"""Query corruptions: exact counts, rates, determinism, dispatch and parameter checks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hopfield_cli.data.corruption import (
    corrupt,
    flip_bernoulli,
    flip_exact,
    gaussian_noise,
    mask_lower_half,
    mask_random,
    num_changed,
)
from hopfield_cli.data.patterns import binary, gaussian
from hopfield_cli.errors import UsageError

from .conftest import spec


def test_num_changed_rounds_half_up():
    assert num_changed(0.5, 3) == 2  # Python's round(1.5) would also give 2 ...
    assert num_changed(0.25, 2) == 1  # ... but round(0.5) gives 0
    assert num_changed(0.1, 64) == 6 and num_changed(0.0, 64) == 0 and num_changed(1.0, 64) == 64


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(1, 6),
    d=st.integers(1, 80),
    p=st.floats(0.0, 1.0, allow_nan=False),
    seed=st.integers(0, 2**31 - 1),
)
def test_flip_exact_changes_exactly_round_pd_signs_per_row(b, d, p, seed):
    x = binary(b, d, torch.Generator().manual_seed(seed))
    y = flip_exact(x, torch.Generator().manual_seed(seed + 1), p=p)
    changed = (y != x).sum(dim=1)
    assert changed.tolist() == [num_changed(p, d)] * b
    assert torch.equal(y.abs(), x.abs())  # only signs change: still on the hypercube


def test_flip_exact_positions_are_uniform(gen):
    b, d, p = 20000, 10, 0.3
    x = torch.ones(b, d)
    y = flip_exact(x, gen(), p=p)
    freq = (y < 0).double().mean(dim=0)  # each component is chosen with probability k / d
    assert torch.allclose(freq, torch.full((d,), 3 / 10, dtype=torch.float64), atol=0.015)
    # All C(10, 3) = 120 subsets occur.
    assert len({tuple(row) for row in (y < 0).tolist()}) == math.comb(10, 3)


def test_flip_exact_negates_real_components(gen):
    x = gaussian(4, 50, gen())
    y = flip_exact(x, gen(1), p=0.2)
    changed = y != x
    assert changed.sum(dim=1).tolist() == [10] * 4
    assert torch.equal(y[changed], -x[changed])


def test_flip_bernoulli_rate(gen):
    x = binary(200, 500, gen())
    y = flip_bernoulli(x, gen(1), p=0.15)
    rate = (y != x).double().mean().item()
    assert abs(rate - 0.15) < 0.005  # 100k trials: std 0.0011
    assert torch.equal(flip_bernoulli(x, gen(1), p=0.0), x)
    assert torch.equal(flip_bernoulli(x, gen(1), p=1.0), -x)


def test_gaussian_noise_scale(gen):
    x = binary(100, 1000, gen())
    y = gaussian_noise(x, gen(1), sigma=0.5)
    assert abs((y - x).std().item() - 0.5) < 0.005
    assert abs((y - x).mean().item()) < 0.005
    assert torch.equal(gaussian_noise(x, gen(1), sigma=0), x)


def test_mask_random_sets_exactly_k_components(gen):
    x = binary(30, 41, gen())
    y = mask_random(x, gen(1), fraction=0.5, fill=7.0)
    assert ((y == 7.0).sum(dim=1) == num_changed(0.5, 41)).all()
    unchanged = y != 7.0
    assert torch.equal(y[unchanged], x[unchanged])
    z = mask_random(x, gen(1), fraction=0.25)
    assert ((z == 0).sum(dim=1) == 10).all()


@pytest.mark.parametrize("side, start", [(4, 8), (5, 10), (64, 2048)])
def test_mask_lower_half_of_images(side, start):
    x = torch.ones(3, side * side)
    y = mask_lower_half(x, None, side=side, fill=-1.0)
    assert (y[:, :start] == 1).all() and (y[:, start:] == -1).all()
    image = y.reshape(3, side, side)
    assert (image[:, side // 2 :, :] == -1).all() and (image[:, : side // 2, :] == 1).all()


def test_mask_lower_half_without_side():
    y = mask_lower_half(torch.ones(2, 7))
    assert y.tolist() == [[1, 1, 1, 0, 0, 0, 0]] * 2


@pytest.mark.parametrize(
    "cfg, side",
    [
        (spec("flip", p=0.3), None),
        (spec("flip_bernoulli", p=0.3), None),
        (spec("noise", sigma=0.4), None),
        (spec("mask", fraction=0.3, fill=None), None),
        (spec("mask_lower_half", fill=0.0, unknown="ignored"), 6),
        (spec("none"), None),
    ],
    ids=lambda c: getattr(c, "name", str(c)),
)
def test_corrupt_dispatch_is_deterministic_and_leaves_input_alone(cfg, side, gen):
    x = binary(5, 36, gen()).double()
    before = x.clone()
    a, b = corrupt(x, cfg, gen(9), image_side=side), corrupt(x, cfg, gen(9), image_side=side)
    assert torch.equal(a, b) and a.dtype == torch.float64 and a.shape == x.shape
    assert torch.equal(x, before)
    if cfg.name == "none":
        assert torch.equal(a, x) and a is not x
    else:
        assert not torch.equal(a, x)


def test_corrupt_matches_the_direct_call(gen):
    x = binary(5, 40, gen())
    assert torch.equal(corrupt(x, spec("flip", p=0.1), gen(2)), flip_exact(x, gen(2), p=0.1))
    assert torch.equal(corrupt(x, spec("noise", sigma=1.5), gen(2)), gaussian_noise(x, gen(2), sigma=1.5))
    assert torch.equal(
        corrupt(x, spec("mask_lower_half", fill=None), gen(2)), mask_lower_half(x, gen(2), side=None)
    )


@pytest.mark.parametrize(
    "cfg, side, field",
    [
        (spec("flip", p=1.5), None, "corruption.p"),
        (spec("flip", p=-0.01), None, "corruption.p"),
        (spec("flip", p=float("nan")), None, "corruption.p"),
        (spec("flip", p="lots"), None, "corruption.p"),
        (spec("flip", p=True), None, "corruption.p"),
        (spec("flip"), None, "corruption.p"),
        (spec("flip_bernoulli", p=2), None, "corruption.p"),
        (spec("noise", sigma=-1.0), None, "corruption.sigma"),
        (spec("noise", sigma=float("inf")), None, "corruption.sigma"),
        (spec("noise"), None, "corruption.sigma"),
        (spec("mask", fraction=1.2), None, "corruption.fraction"),
        (spec("mask", fraction=0.2, fill=float("nan")), None, "corruption.fill"),
        (spec("mask_lower_half"), 5, "corruption.side"),
        (spec("mask_lower_half"), 0, "corruption.side"),
        (spec("blur"), None, "corruption.name"),
        (spec(), None, "corruption.name"),
    ],
)
def test_corrupt_parameter_errors(cfg, side, field, gen):
    with pytest.raises(UsageError) as info:
        corrupt(torch.ones(2, 36), cfg, gen(), image_side=side)
    assert info.value.field == field
