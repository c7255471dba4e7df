"""Exact sign decisions of the exponential family (Demircigil et al. 2017) on +-1 data, and its numeric edges.

The reference is independent of the implementation: the field sum_i exp(beta (x_ij + h_ij)) -
sum_i exp(beta (-x_ij + h_ij)) written out literally in mpmath at a precision far beyond what each case needs,
with the documented sweep order (one torch.randperm per sweep from a generator seeded with ``seed``).
"""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

from hopfield_cli.core.exponential import ExponentialMemory, exact_field_sign
from hopfield_cli.data.patterns import binary


def reference_states(x: torch.Tensor, q: torch.Tensor, beta: float, seed: int, steps: int, digits: int):
    """Asynchronous sweeps with the field in mpmath at ``digits`` significant digits, per query."""
    rows = [[int(v) for v in row] for row in x.tolist()]
    b = mpmath.mpf(beta)  # beta's exact binary value
    out = []
    with mpmath.workdps(digits):
        for query in q.tolist():
            xi = [int(v) for v in query]
            d = len(xi)
            g = torch.Generator().manual_seed(seed)
            for _ in range(steps):
                changed = False
                for j in torch.randperm(d, generator=g).tolist():
                    total = mpmath.mpf(0)
                    for row in rows:
                        h = sum(row[k] * xi[k] for k in range(d)) - row[j] * xi[j]
                        total += mpmath.exp(b * (row[j] + h)) - mpmath.exp(b * (-row[j] + h))
                    new = 1 if total > 0 else (-1 if total < 0 else xi[j])
                    changed |= new != xi[j]
                    xi[j] = new
                if not changed:
                    break
            out.append(xi)
    return torch.tensor(out, dtype=torch.float64)


def flipped_queries(n: int, d: int, b: int, flips: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = binary(n, d, g).double()
    q = x[torch.arange(b) % n].clone()
    for row in q:
        row[torch.randperm(d, generator=g)[:flips]] *= -1
    return x, q


def test_issue_27_cases_at_beta_8_follow_the_exact_rule():
    """beta = 8, d = 16, N = 24, 48 queries with 3 flipped bits: queries 8, 26, 30, 31 and 43 once kept a bit whose
    exact field was nonzero but under the log-space tie tolerance (measured before the fix: 5 of 48 differed)."""
    x, q = flipped_queries(24, 16, 48, 3)
    cases = [8, 26, 30, 31, 43]
    model = ExponentialMemory(8.0, seed=0)
    result = model.retrieve(x, q, update_steps_max=20)
    assert model.exact_decisions > 0  # these runs do meet fields float64 alone cannot decide
    expected = reference_states(x, q[cases], 8.0, 0, 20, digits=60)
    assert torch.equal(result.states[cases], expected)


@pytest.mark.parametrize(("beta", "digits"), [(1e-20, 80), (1e-300, 700), (0.7, 40), (40.0, 60)])
def test_states_equal_the_exact_rule_across_beta(beta, digits):
    """At beta = 1e-20 the rule once returned the queries unchanged (every field read as a tie); the exact rule
    there is the small-beta limit: sgn(sum_i x_ij), then the Hebbian sgn(sum_i x_ij h_ij) where that is 0."""
    x, q = flipped_queries(6, 8, 6, 2, seed=3)
    result = ExponentialMemory(beta, seed=2).retrieve(x, q, update_steps_max=10)
    assert torch.equal(result.states, reference_states(x, q, beta, 2, 10, digits))


def test_tiny_beta_reaches_the_small_beta_limit():
    """beta -> 0: xi_j -> sgn(sum_i x_ij) where that is nonzero (one sweep decides every such component)."""
    x, q = flipped_queries(7, 12, 5, 3, seed=1)
    majority = torch.sign(x.sum(0))
    result = ExponentialMemory(1e-20, seed=0).retrieve(x, q, update_steps_max=10)
    decided = majority != 0
    assert bool((result.states[:, decided] == majority[decided]).all())
    assert not torch.equal(result.states, q)


@pytest.mark.parametrize("beta", [1e-300, 1e-20, 1e-3, 1.0, 8.0, 1e300])
def test_energy_is_finite_in_float32_and_matches_its_limits(beta):
    """E = -(1/beta) log((1/N) sum_i exp(beta z_i)) against mpmath; -> -mean z (beta -> 0), -max z (beta -> inf).
    At beta = 1e-300 the old -lse energy was -log(N)/beta ~ -1e300: inf once returned in float32."""
    x, q = flipped_queries(9, 10, 4, 2, seed=5)
    model = ExponentialMemory(beta)
    energy = model.energy(x.float(), q.float())
    assert energy.dtype == torch.float32 and bool(torch.isfinite(energy).all())
    z = (q @ x.T).tolist()
    with mpmath.workdps(700):
        b = mpmath.mpf(beta)
        expected = [-mpmath.log(mpmath.fsum(mpmath.exp(b * v) for v in row) / len(row)) / b for row in z]
    exact64 = model.energy(x, q)
    for got, want in zip(exact64.tolist(), expected, strict=True):
        assert math.isclose(got, float(want), rel_tol=1e-12, abs_tol=1e-12)
    z = torch.tensor(z, dtype=torch.float64)
    if beta <= 1e-20:
        assert torch.allclose(exact64, -z.mean(1), rtol=0, atol=1e-12)
    if beta >= 1e300:
        assert torch.allclose(exact64, -z.amax(1), rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("coefficients", "beta"),
    [
        ({1: 1, 0: -2}, math.log(2)),  # e^beta - 2 = -4.6e-17: below float64's resolution of the terms
        ({0: 1, -1: -2, -2: 1}, 1e-300),  # (1 - e^-beta)^2 ~ 1e-600: second order, underflows float64
        ({3: 5, 1: -7, -2: 2, -4: -1}, 0.25),
        ({2: 1, -2: 1, 0: -2}, 1e-20),  # 4 sinh(beta)^2 > 0
        ({5: -1, -5: 1}, 1e300),
        ({}, 1.0),  # every a_k = 0: the only tie
    ],
)
def test_exact_field_sign_against_mpmath(coefficients, beta):
    with mpmath.workdps(1500):
        b = mpmath.mpf(beta)
        total = mpmath.fsum(a * mpmath.exp(b * k) for k, a in coefficients.items())
    expected = 0 if total == 0 else (1 if total > 0 else -1)
    assert exact_field_sign(coefficients, beta) == expected
