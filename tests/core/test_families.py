"""The baseline families (classical, dense, exponential, sparse); the registry is in test_models.py.

Each family is checked three ways: its energy never increases along its own update (hypothesis), it matches an
independent per-component float64 reference written here on small cases, and it reproduces the behaviour the
literature reports (classical capacity ~0.14 d, exponential capacity >> d, sparse exact retrieval).
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hopfield_cli.core.classical import ClassicalHopfield
from hopfield_cli.core.dense import DenseAssociativeMemory
from hopfield_cli.core.exponential import ExponentialMemory
from hopfield_cli.core.sparse import SparseHopfield

SETTINGS = settings(deadline=None, max_examples=25)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The per-component loops issue many tiny ops; on a shared 2-core box OpenMP threads then mostly wait on
    each other (measured: 6 s with 2 threads vs 0.1 s with 1 under load). Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- data


def binary(rows: int, d: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (rows, d), generator=generator).double() * 2 - 1


def flip_bits(patterns: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """Each row with exactly ``count`` of its bits flipped."""
    queries = patterns.clone()
    for row in queries:
        row[torch.randperm(row.numel(), generator=generator)[:count]] *= -1
    return queries


@st.composite
def binary_problem(draw, d_max: int = 12, n_max: int = 16):
    d = draw(st.integers(2, d_max))
    n = draw(st.integers(1, n_max))
    b = draw(st.integers(1, 4))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    patterns = binary(n, d, g)
    # queries: a mix of corrupted patterns and random states
    queries = torch.cat([flip_bits(patterns[:b], max(1, d // 5), g), binary(b, d, g)])
    return patterns, queries, draw(st.integers(0, 1000))


@st.composite
def real_problem(draw):
    d = draw(st.integers(1, 10))
    n = draw(st.integers(1, 12))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    scale = draw(st.sampled_from([0.3, 1.0, 3.0]))
    patterns = scale * torch.randn(n, d, generator=g, dtype=torch.float64)
    queries = scale * torch.randn(draw(st.integers(1, 4)), d, generator=g, dtype=torch.float64)
    return patterns, queries


def assert_never_increases(energies: torch.Tensor, rel: float = 1e-9) -> None:
    rise = energies[:, 1:] - energies[:, :-1]
    assert bool((rise <= rel * (1 + energies[:, :-1].abs())).all()), rise.max()


# ---------------------------------------------------------------- references (per component, float64)


def reference_async(patterns, query, seed, update_steps_max, flip_gain):
    """Per-query asynchronous sweeps; ``flip_gain(xi, j)`` is the field whose sign sets xi_j.

    Uses the documented order: one permutation per sweep from torch.Generator().manual_seed(seed).
    """
    xi = query.clone()
    g = torch.Generator().manual_seed(seed)
    steps, converged = 0, False
    for _ in range(update_steps_max):
        changed = False
        for j in torch.randperm(xi.numel(), generator=g).tolist():
            gain = flip_gain(xi, j)
            new = 1.0 if gain > 0 else (-1.0 if gain < 0 else float(xi[j]))
            changed |= new != float(xi[j])
            xi[j] = new
        steps += 1
        if not changed:
            converged = True
            break
    return xi, steps, converged


def hebbian(patterns):
    """d * W: the sum of outer products with zero diagonal (integers, so ties are exact zeros)."""
    d = patterns.shape[1]
    w = torch.zeros(d, d, dtype=torch.float64)
    for x in patterns:
        w += torch.outer(x, x)
    w.fill_diagonal_(0)
    return w


def krotov_gain(patterns, F):
    """sum_i [F(x_ij + h_ij) - F(-x_ij + h_ij)], h_ij = sum_{l != j} x_il xi_l, written out literally."""

    def gain(xi, j):
        total, scale = 0.0, 0.0
        for x in patterns:
            h = sum(float(x[k] * xi[k]) for k in range(xi.numel()) if k != j)
            total += F(float(x[j]) + h) - F(-float(x[j]) + h)
            scale += abs(F(float(x[j]) + h)) + abs(F(-float(x[j]) + h))
        return 0.0 if abs(total) <= 1e-12 * scale else total  # an exact tie, up to summation order

    return gain


def reference_sparsemax(z):
    """Sparsemax by sorting (Martins & Astudillo 2016), one row at a time."""
    out = torch.zeros_like(z)
    for r, row in enumerate(z):
        s, _ = row.sort(descending=True)
        k = torch.arange(1, row.numel() + 1, dtype=row.dtype)
        support = 1 + k * s > s.cumsum(0)
        kz = int(support.sum())
        tau = (s[:kz].sum() - 1) / kz
        out[r] = (row - tau).clamp(min=0)
    return out


def reference_entmax(z, alpha):
    """alpha-entmax p = [(alpha - 1) z - tau]_+^(1/(alpha - 1)) with tau by bisection (sum p = 1)."""
    out = torch.zeros_like(z)
    for r, row in enumerate(z):
        a = (alpha - 1) * row
        lo, hi = float(a.max()) - 1, float(a.max())
        for _ in range(200):
            tau = (lo + hi) / 2
            if float((a - tau).clamp(min=0).pow(1 / (alpha - 1)).sum()) > 1:
                lo = tau
            else:
                hi = tau
        p = (a - (lo + hi) / 2).clamp(min=0).pow(1 / (alpha - 1))
        out[r] = p / p.sum()
    return out


# ---------------------------------------------------------------- energy never increases


@SETTINGS
@given(binary_problem())
def test_classical_async_energy_never_increases_and_converges(problem):
    patterns, queries, seed = problem
    result = ClassicalHopfield("async", seed=seed).retrieve(patterns, queries, update_steps_max=200, eps=0)
    assert_never_increases(result.energies)
    assert bool(result.converged.all())


@SETTINGS
@given(binary_problem(), st.integers(1, 5), st.booleans())
def test_dense_energy_never_increases(problem, n, rectified):
    patterns, queries, seed = problem
    model = DenseAssociativeMemory(n=n, rectified=rectified, seed=seed)
    result = model.retrieve(patterns, queries, update_steps_max=100, eps=0)
    assert_never_increases(result.energies)
    assert bool(result.converged.all())


@SETTINGS
@given(binary_problem(d_max=40), st.floats(1e-3, 1e3))
def test_exponential_energy_never_increases_without_overflow(problem, beta):
    patterns, queries, seed = problem
    result = ExponentialMemory(beta=beta, seed=seed).retrieve(patterns, queries, update_steps_max=100, eps=0)
    assert bool(torch.isfinite(result.energies).all())
    assert_never_increases(result.energies)
    assert bool(result.converged.all())


@SETTINGS
@given(real_problem(), st.sampled_from([2.0, 1.5, 1.3]), st.floats(0.05, 20.0))
def test_sparse_energy_never_increases_and_is_nonnegative(problem, alpha, beta):
    patterns, queries = problem
    result = SparseHopfield(beta=beta, alpha=alpha).retrieve(
        patterns, queries, update_steps_max=30, eps=1e-12
    )
    assert_never_increases(result.energies, rel=1e-8)
    assert float(result.energies.min()) >= -1e-8  # the Eq. 2 constants make E >= 0


@SETTINGS
@given(binary_problem(d_max=10, n_max=8), st.integers(0, 1000))
def test_classical_sync_ends_in_fixed_point_or_two_cycle(problem, seed):
    patterns, queries, _ = problem
    result = ClassicalHopfield("sync").retrieve(patterns, queries, update_steps_max=300, eps=0)
    w = hebbian(patterns)

    def step(xi):
        h = xi @ w
        return torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, xi)).double()

    final = result.states
    assert torch.equal(step(final)[result.converged], final[result.converged])
    assert torch.equal(step(step(final)), final)


# ---------------------------------------------------------------- against independent references


@SETTINGS
@given(binary_problem(d_max=10, n_max=16), st.sampled_from(["async", "sync"]))
def test_classical_matches_reference(problem, update):
    patterns, queries, seed = problem  # N on both sides of d: both the overlap and the W path are exercised
    result = ClassicalHopfield(update, seed=seed).retrieve(patterns, queries, update_steps_max=50, eps=0)
    assert result.energies.shape == (queries.shape[0], 51)  # the modern net's layout, padded to the right
    w = hebbian(patterns)
    for b, query in enumerate(queries):
        if update == "async":
            xi, steps, converged = reference_async(patterns, query, seed, 50, lambda xi, j: float(w[j] @ xi))
        else:
            xi, steps, converged = query.clone(), 0, False
            for _ in range(50):
                h = w @ xi
                new = torch.where(h > 0, 1.0, torch.where(h < 0, -1.0, xi)).double()
                steps += 1
                if torch.equal(new, xi):
                    converged = True
                    break
                xi = new
        assert torch.equal(result.states[b], xi)
        assert (int(result.steps[b]), bool(result.converged[b])) == (steps, converged)
        energy = float(-0.5 * xi @ w @ xi) / patterns.shape[1]
        assert math.isclose(float(result.energies[b, steps]), energy, abs_tol=1e-9)
    assert torch.allclose(ClassicalHopfield().energy(patterns, result.states), result.energies[:, -1])


@settings(deadline=None, max_examples=15)
@given(binary_problem(d_max=8, n_max=6), st.integers(2, 4), st.booleans())
def test_dense_matches_reference(problem, n, rectified):
    patterns, queries, seed = problem

    def F(z):
        return max(z, 0.0) ** n if rectified else z**n

    result = DenseAssociativeMemory(n=n, rectified=rectified, seed=seed).retrieve(
        patterns, queries, update_steps_max=20, eps=0
    )
    gain = krotov_gain(patterns, F)
    for b, query in enumerate(queries):
        xi, steps, converged = reference_async(patterns, query, seed, 20, gain)
        assert torch.equal(result.states[b], xi)
        assert (int(result.steps[b]), bool(result.converged[b])) == (steps, converged)
        energy = -sum(F(float(x @ xi)) for x in patterns)
        assert math.isclose(float(result.energies[b, steps]), energy, rel_tol=1e-12, abs_tol=1e-9)


@settings(deadline=None, max_examples=15)
@given(binary_problem(d_max=8, n_max=6), st.floats(0.05, 3.0))
def test_exponential_matches_reference(problem, beta):
    patterns, queries, seed = problem
    result = ExponentialMemory(beta=beta, seed=seed).retrieve(patterns, queries, update_steps_max=20, eps=0)
    gain = krotov_gain(patterns, lambda z: math.exp(beta * z))  # beta * d <= 24: no overflow here
    for b, query in enumerate(queries):
        xi, steps, converged = reference_async(patterns, query, seed, 20, gain)
        assert torch.equal(result.states[b], xi)
        assert (int(result.steps[b]), bool(result.converged[b])) == (steps, converged)
        # Eq. 2 terms 1 and 3: -lse(beta, X^T xi) + log(N) / beta
        energy = -math.log(sum(math.exp(beta * float(x @ xi)) for x in patterns) / len(patterns)) / beta
        assert math.isclose(float(result.energies[b, steps]), energy, rel_tol=1e-12, abs_tol=1e-9)


@SETTINGS
@given(real_problem(), st.sampled_from([2.0, 1.5, 1.25]), st.floats(0.1, 10.0))
def test_sparse_matches_reference(problem, alpha, beta):
    patterns, queries = problem
    model = SparseHopfield(beta=beta, alpha=alpha)
    z = beta * queries @ patterns.T
    p = reference_sparsemax(z) if alpha == 2.0 else reference_entmax(z, alpha)
    assert torch.allclose(model.weights(patterns, queries), p, atol=1e-6)
    # the modern update structure: xi_new = X p with p on the simplex
    assert torch.allclose(model.update(patterns, queries), p @ patterns, atol=1e-5)
    tsallis = (p - p**alpha).sum(1) / (alpha * (alpha - 1))
    psi = (p * z).sum(1) + tsallis
    h_max = (1 - patterns.shape[0] ** (1 - alpha)) / (alpha * (alpha - 1))
    energy = -psi / beta + 0.5 * (queries**2).sum(1) + h_max / beta + 0.5 * (patterns**2).sum(1).max()
    assert torch.allclose(model.energy(patterns, queries), energy, atol=1e-5)


@SETTINGS
@given(real_problem(), st.sampled_from([2.0, 1.5, 1.3]), st.floats(0.1, 10.0))
def test_sparse_energy_gradient_is_cccp_residual(problem, alpha, beta):
    """grad E = xi - X p holds only with the Tsallis constant 1/(alpha (alpha - 1)): the update is CCCP."""
    patterns, queries = problem
    model = SparseHopfield(beta=beta, alpha=alpha)
    states = queries.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model.energy(patterns, states).sum(), states)
    residual = queries - model.update(patterns, queries)
    assert torch.allclose(grad, residual, atol=1e-6 * (1 + float(residual.abs().max())))


# ---------------------------------------------------------------- behaviour from the literature


def test_classical_capacity_drops_near_0_14_d():
    g = torch.Generator().manual_seed(0)
    d, fractions = 100, {}
    for n in (5, 40):
        patterns = binary(n, d, g)
        queries = flip_bits(patterns, 5, g)  # 5% noise
        result = ClassicalHopfield("async").retrieve(patterns, queries, update_steps_max=50, eps=0)
        fractions[n] = float((result.states == patterns).all(1).double().mean())
    assert fractions[5] >= 0.9 and fractions[40] <= 0.2, fractions


def test_exponential_stores_many_more_patterns_than_d():
    g = torch.Generator().manual_seed(0)
    patterns = binary(200, 32, g)  # N = 6.25 d; I(0.8)/2 = 0.184 allows exp(0.184 * 32) ~ 360
    queries = flip_bits(patterns, 3, g)  # ~10% noise
    result = ExponentialMemory(beta=1.0).retrieve(patterns, queries, update_steps_max=20, eps=0)
    assert float((result.states == patterns).all(1).double().mean()) >= 0.95


def test_exponential_large_beta_does_not_overflow():
    g = torch.Generator().manual_seed(1)
    patterns = binary(50, 64, g)
    queries = flip_bits(patterns, 6, g)
    result = ExponentialMemory(beta=100.0).retrieve(patterns, queries, update_steps_max=20, eps=0)
    assert bool(torch.isfinite(result.energies).all())  # beta * d = 6400 >> 709
    assert_never_increases(result.energies)
    assert torch.equal(result.states, patterns)


def test_dense_cubic_beats_classical_capacity():
    g = torch.Generator().manual_seed(0)
    patterns = binary(30, 64, g)  # N = 0.47 d, far above the classical 0.14 d
    queries = flip_bits(patterns, 3, g)
    dense = DenseAssociativeMemory(n=3).retrieve(patterns, queries, update_steps_max=20, eps=0)
    classical = ClassicalHopfield().retrieve(patterns, queries, update_steps_max=20, eps=0)
    dense_ok = float((dense.states == patterns).all(1).double().mean())
    classical_ok = float((classical.states == patterns).all(1).double().mean())
    assert dense_ok >= 0.9 and classical_ok <= 0.3, (dense_ok, classical_ok)


@pytest.mark.parametrize("alpha", [2.0, 1.5])
def test_sparse_retrieves_exactly_with_sparse_weights_at_large_beta(alpha):
    g = torch.Generator().manual_seed(0)
    patterns = torch.randn(20, 16, generator=g, dtype=torch.float64)
    queries = patterns + 0.1 * torch.randn(20, 16, generator=g, dtype=torch.float64)
    result = SparseHopfield(beta=5.0, alpha=alpha).retrieve(patterns, queries, update_steps_max=20, eps=1e-12)
    assert bool(result.converged.all())
    assert result.k90.tolist() == [1] * 20
    assert torch.allclose(result.max_weight, torch.ones(20, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(result.states, patterns, atol=1e-12)
    weights = SparseHopfield(beta=5.0, alpha=alpha).weights(patterns, result.states)
    assert (weights > 0).sum(1).tolist() == [1] * 20  # exact zeros, not just small weights


def test_sparse_matches_modern_in_the_one_hot_limit():
    modern = pytest.importorskip("hopfield_cli.core.modern")
    g = torch.Generator().manual_seed(0)
    patterns = torch.randn(10, 16, generator=g, dtype=torch.float64)
    queries = patterns + 0.05 * torch.randn(10, 16, generator=g, dtype=torch.float64)
    sparse_next = SparseHopfield(beta=10.0).update(patterns, queries)
    modern_next = modern.ModernHopfield(beta=10.0).update(patterns, queries)
    assert torch.allclose(sparse_next, modern_next, atol=1e-6)
