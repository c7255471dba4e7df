"""Every family stays finite for every beta and norm a float holds, checked against independent references.

References: the plain float64 Eqs. 2-3 (``reference_update``/``reference_energy``) in units where they do not
overflow, with the exact change of units X -> s X, beta -> beta / s^2, E -> s^2 E (``core.scaling``); the
beta -> inf limit (the nearest-score pattern) and the beta -> 0 limit (the mean pattern, E = -mean z + ...);
the log-space exponential energy written out by hand; Theorem 3's formula evaluated directly where it fits.
"""

from __future__ import annotations

import math

import pytest
import torch

from hopfield_cli.core import scaling, streaming
from hopfield_cli.core.dense import DenseAssociativeMemory, order_overflow
from hopfield_cli.core.errors import CoreError
from hopfield_cli.core.exponential import MIN_BETA, ExponentialMemory
from hopfield_cli.core.modern import ModernHopfield, reference_energy, reference_update
from hopfield_cli.core.nearest import nearest_patterns
from hopfield_cli.core.sparse import SparseHopfield
from hopfield_cli.core.theory import capacity_bound, well_separated_threshold

HUGE_BETAS = [1e30, 1e38, 1e300, 1.7976931348623157e308]
TINY_BETAS = [1e-40, 1e-200, 5e-324]
SCALES = [2.0**64, 2.0**100, 2.0**126, 2.0**-60, 2.0**-100]  # norms ~1e19 .. 3e38 and ~1e-18 .. 1e-30


def problem(seed: int = 0, n: int = 10, d: int = 12, b: int = 6):
    """+-1 patterns (float64) and queries with two flipped bits each."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (n, d), generator=g).double() * 2 - 1
    q = x[:b].clone()
    q[:, :2] *= -1
    return x, q


def one_hot_limit(x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The beta -> inf update: the mean of the patterns with the largest score x_i^T xi (ties split evenly)."""
    scores = q @ x.T
    best = (scores == scores.max(dim=1, keepdim=True).values).double()
    return best @ x / best.sum(1, keepdim=True)


def finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t.double()).all()) for t in tensors)


# ---------------------------------------------------------------- units (core.scaling)


def test_ordinary_inputs_keep_their_units_and_beta():
    units = scaling.plan_scaling(3.0, 3.0, 1000, 8.0, dtype=torch.float32, acc=torch.float32)
    assert units.shift == 0 and units.beta == 8.0


@pytest.mark.parametrize("norm", [1e19, 1e30, 3e38, 1e-20, 1e-35])
def test_extreme_norms_are_scaled_to_below_one_exactly(norm):
    units = scaling.plan_scaling(norm, norm, 10, 1.0, dtype=torch.float32, acc=torch.float32)
    assert 0.5 <= units.length(norm) < 1.0
    values = torch.tensor([norm, -norm / 3], dtype=torch.float64)
    assert torch.equal(units.up(units.down(values)), values)  # powers of two: exact both ways


def test_norms_beyond_float64_energies_are_refused():
    with pytest.raises(CoreError) as info:
        scaling.plan_scaling(1e200, 1e200, 10, 1.0, dtype=torch.float64, acc=torch.float64)
    assert info.value.param == "patterns"


@pytest.mark.parametrize("rows", [[[3e38, 3e38, -3e38]], [[1e-30, -1e-30, 2e-30]], [[0.0, 0.0, 0.0]]])
def test_max_norm_neither_overflows_nor_underflows(rows):
    x = torch.tensor(rows, dtype=torch.float32)
    assert streaming.max_norm(x) == pytest.approx(float(x.double().norm(dim=1).max()), rel=1e-6)


# ---------------------------------------------------------------- modern network


@pytest.mark.parametrize("scale", SCALES)
def test_modern_with_extreme_norms_matches_the_float64_reference_in_unit_scale(scale):
    x, q = problem()
    beta = 0.5
    model = ModernHopfield(beta / scale**2)
    xs, qs = (x * scale).float(), (q * scale).float()
    update, energy = model.update(xs, qs), model.energy(xs, qs)
    assert finite(update, energy)
    ref_update, ref_energy = reference_update(x, q, beta), reference_energy(x, q, beta)
    assert torch.allclose(update.double() / scale, ref_update, atol=1e-5)
    assert torch.allclose(energy.double() / scale**2, ref_energy, rtol=1e-5, atol=1e-5)
    result = model.retrieve(xs, qs, update_steps_max=20, eps=1e-6 * scale)
    assert finite(result.states, result.energies, result.max_weight)
    same = ModernHopfield(beta).retrieve(x.float(), q.float(), update_steps_max=20, eps=1e-6)
    assert result.steps.tolist() == same.steps.tolist() and result.k90.tolist() == same.k90.tolist()
    assert torch.allclose(result.states.double() / scale, same.states.double(), atol=1e-5)


@pytest.mark.parametrize("beta", HUGE_BETAS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_modern_at_huge_beta_is_the_nearest_score_pattern(beta, dtype):
    """beta -> inf: softmax(beta X^T xi) is one-hot on the largest score; E -> -max_i x_i^T xi + ||xi||^2/2 + M^2/2."""
    x, q = problem()
    model = ModernHopfield(beta)
    update, energy = model.update(x.to(dtype), q.to(dtype)), model.energy(x.to(dtype), q.to(dtype))
    scores = q @ x.T
    assert torch.allclose(update.double(), one_hot_limit(x, q), rtol=0, atol=1e-6)
    limit = -scores.max(dim=1).values + 0.5 * (q * q).sum(1) + 0.5 * x.shape[1]
    assert torch.allclose(energy.double(), limit, atol=1e-4)
    result = model.retrieve(x.to(dtype), q.to(dtype), update_steps_max=10, eps=1e-6)
    assert finite(result.states, result.energies, result.max_weight)
    assert bool((result.max_weight > 0).all() and (result.max_weight <= 1).all())


@pytest.mark.parametrize("beta", TINY_BETAS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_modern_at_tiny_beta_is_the_mean_pattern(beta, dtype):
    """beta -> 0: p -> 1/N, xi_new -> mean x_i and E -> -mean_i x_i^T xi + ||xi||^2/2 + M^2/2 (Eq. 2's limit)."""
    x, q = problem()
    model = ModernHopfield(beta)
    update, energy = model.update(x.to(dtype), q.to(dtype)), model.energy(x.to(dtype), q.to(dtype))
    assert torch.allclose(update.double(), x.mean(0).expand_as(q), atol=1e-6)
    limit = -(q @ x.T).mean(1) + 0.5 * (q * q).sum(1) + 0.5 * x.shape[1]
    assert torch.allclose(energy.double(), limit, atol=1e-5)


# ---------------------------------------------------------------- sparse network


@pytest.mark.parametrize("alpha", [2.0, 1.5, 1.25])
@pytest.mark.parametrize("beta", HUGE_BETAS)
def test_sparse_at_huge_beta_is_one_hot_on_the_largest_score(alpha, beta):
    x, q = problem()
    model = SparseHopfield(beta, alpha)
    scores = q @ x.T
    assert torch.allclose(model.update(x.float(), q.float()).double(), one_hot_limit(x, q), atol=1e-6)
    energy = model.energy(x.float(), q.float())  # p on the argmax: E -> -max z + ... as beta -> inf
    limit = -scores.max(dim=1).values + 0.5 * (q * q).sum(1) + 0.5 * x.shape[1]
    assert torch.allclose(energy, limit, atol=1e-4)
    result = model.retrieve(x.float(), q.float(), update_steps_max=10, eps=1e-6)
    assert finite(result.states, result.energies, result.max_weight)


@pytest.mark.parametrize("beta", TINY_BETAS + [1e-9])
def test_sparse_at_tiny_beta_takes_the_mean_limit(beta):
    x, q = problem()
    model = SparseHopfield(beta)
    assert torch.allclose(model.update(x, q), x.mean(0).expand_as(q), atol=1e-7)
    limit = -(q @ x.T).mean(1) + 0.5 * (q * q).sum(1) + 0.5 * x.shape[1]
    assert torch.allclose(model.energy(x, q), limit, atol=1e-6)


@pytest.mark.parametrize("scale", SCALES)
def test_sparse_with_extreme_norms_matches_unit_scale(scale):
    x, q = problem()
    ref = SparseHopfield(0.7).retrieve(x, q, update_steps_max=20, eps=1e-9)
    got = SparseHopfield(0.7 / scale**2).retrieve(
        (x * scale).float(), (q * scale).float(), update_steps_max=20, eps=1e-9 * scale
    )
    assert finite(got.states, got.energies)
    assert torch.allclose(got.states.double() / scale, ref.states, atol=1e-5)
    assert torch.allclose(got.energies.double() / scale**2, ref.energies, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- exponential and dense


@pytest.mark.parametrize("beta", [1e30, 1e300, 1.7976931348623157e308])
def test_exponential_at_huge_beta_retrieves_as_at_large_beta(beta):
    """beta=1e308 once returned the queries unchanged (inf - inf in the field); now it acts as beta=1e3 here."""
    x, q = problem(n=6, d=16)
    reference = ExponentialMemory(1e3, seed=1).retrieve(x, q, update_steps_max=20)
    result = ExponentialMemory(beta, seed=1).retrieve(x, q, update_steps_max=20)
    assert torch.equal(result.states, reference.states)
    # -lse(beta, X^T xi) + log(N) / beta written out: -(max_i z_i + log(#argmax / N) / beta), integer overlaps z
    z = result.states @ x.T
    top = z.max(dim=1).values
    expected = -(top + torch.log((z == top[:, None]).sum(1).double() / z.shape[1]) / beta)
    assert torch.allclose(result.energies[:, -1], expected, rtol=0, atol=1e-12)


def test_exponential_below_its_smallest_beta_is_refused():
    with pytest.raises(CoreError) as info:
        ExponentialMemory(MIN_BETA / 10)
    assert info.value.param == "beta" and "1e-300" in info.value.message
    x, q = problem()
    assert finite(ExponentialMemory(MIN_BETA).retrieve(x, q, update_steps_max=5).energies)


def test_dense_order_beyond_float64_is_refused_and_the_edge_is_finite():
    assert order_overflow(3, 10**9, 10**7) is None
    message = order_overflow(64, 4, 100_000)
    assert message is not None and "n <= 61" in message
    largest = int(message.rsplit("n <= ", 1)[1])
    assert order_overflow(largest, 4, 100_000) is None and order_overflow(largest + 1, 4, 100_000) is not None
    x = torch.ones(4, 100_000, dtype=torch.float64)
    with pytest.raises(CoreError) as info:
        DenseAssociativeMemory(n=64).retrieve(x, x[:1], update_steps_max=1)
    assert info.value.param == "n"
    assert finite(DenseAssociativeMemory(n=largest).energy(x, x[:1]))


# ---------------------------------------------------------------- nearest pattern


@pytest.mark.parametrize("scale", SCALES)
def test_nearest_pattern_is_scale_free(scale):
    x, q = problem()
    ids, distance = nearest_patterns(x.float(), q.float())
    ids_s, distance_s = nearest_patterns((x * scale).float(), (q * scale).float())
    assert ids_s.tolist() == ids.tolist()
    assert torch.allclose(distance_s.double() / scale, distance.double(), rtol=1e-6)


# ---------------------------------------------------------------- theory


def test_capacity_bound_does_not_apply_instead_of_raising():
    for args, reason in [
        ((8.0, 1.0, 1, 0.001), "d = 1"),
        ((8.0, 0.0, 8, 0.001), "K = 0"),
        ((8.0, math.nan, 8, 0.001), "K = nan"),
        ((8.0, 1.0, 8, 1.0), "p = 1"),
    ]:
        bound = capacity_bound(*args)
        assert bound.not_applicable.startswith(reason), bound
        assert math.isnan(bound.c) and math.isnan(bound.n_guaranteed) and not bound.condition_holds


@pytest.mark.parametrize("beta", [5e-324, 1e-300, 1e-3, 1.0, 8.0, 1e30, 1e308])
@pytest.mark.parametrize("k, dim", [(1.0, 2), (3.0, 20), (1.0, 75), (1e35, 64)])
def test_capacity_bound_is_finite_and_matches_the_formula_where_it_fits(beta, k, dim):
    bound = capacity_bound(beta, k, dim, 0.001)
    assert not bound.not_applicable and math.isfinite(bound.a) and bound.c > 0
    try:  # Theorem 3 as written, where its products neither under- nor overflow
        a = 2.0 / (dim - 1) * (1.0 + math.log(2.0 * beta * k * k * 0.001 * (dim - 1)))
        b = 2.0 * k * k * beta / 5.0
        w = scipy_lambert(math.exp(a + math.log(b)))
        c = b / w
    except (ValueError, OverflowError, ZeroDivisionError):
        return
    if math.isfinite(c) and b > 0:
        assert bound.a == pytest.approx(a, rel=1e-12) and bound.c == pytest.approx(c, rel=1e-9)


def scipy_lambert(x: float) -> float:
    scipy_special = pytest.importorskip("scipy.special")
    if math.isinf(x):
        raise OverflowError
    return float(scipy_special.lambertw(x).real)


def test_capacity_bound_beyond_float64_is_inf_not_an_error():
    bound = capacity_bound(8.0, 1.0, 10_000, 0.001)
    assert bound.condition_holds and bound.n_guaranteed == math.inf and math.isfinite(bound.c)


def test_well_separated_threshold_at_zero_norm_and_extreme_beta():
    assert well_separated_threshold(4, 8.0, 0.0) == -math.inf  # all patterns are 0: the formula's limit
    for beta in (5e-324, 1e-300, 1e300):
        value = well_separated_threshold(8, beta, 3.0)
        assert not math.isnan(value)
    direct = 2.0 / (8.0 * 8) + math.log(2.0 * 7 * 8 * 8.0 * 9.0) / 8.0
    assert well_separated_threshold(8, 8.0, 3.0) == pytest.approx(direct, rel=1e-14)
