"""Theory: separation, well-separation, Theorem 5, Lemma A3, Theorem 3 (against scipy's Lambert W)."""

import math

import numpy as np
import pytest
import scipy.special
import torch

from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.core.theory import (
    capacity_bound,
    classical_capacity,
    global_fixed_point,
    lambert_w0,
    lambert_w0_exp,
    separation,
    theorem5_bound,
    well_separated,
)


def sphere_patterns(n, d, radius, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return radius * x / torch.linalg.vector_norm(x, dim=1, keepdim=True)


def test_separation_matches_dense_and_chunked():
    x = sphere_patterns(57, 9, 2.0, 0)
    gram = (x @ x.T).numpy()
    ref = np.diag(gram) - np.where(np.eye(57, dtype=bool), -np.inf, gram).max(axis=1)
    np.testing.assert_allclose(separation(x).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(separation(x, chunk=5).numpy(), ref, rtol=1e-12)
    # equal norms: Delta_i = 1/2 min_j ||x_i - x_j||^2
    dist2 = torch.cdist(x, x).square() + torch.diag(torch.full((57,), torch.inf, dtype=torch.float64))
    np.testing.assert_allclose(separation(x).numpy(), 0.5 * dist2.min(dim=1).values.numpy(), rtol=1e-9)


def test_theorem5_one_update_bound_science_setting():
    """SCIENCE.md: d=64, N=200, beta=1, radius 8, query x_i + 0.1 noise: Delta_min ~ 34.7, error ~ 1e-15."""
    d, n, beta, radius = 64, 200, 1.0, 8.0
    x = sphere_patterns(n, d, radius, 1)
    delta = separation(x)
    assert 30.0 < float(delta.min()) < 40.0
    mask = well_separated(x, beta)
    assert bool(mask.all())
    g = torch.Generator().manual_seed(2)
    queries = x + 0.1 * torch.randn(n, d, generator=g, dtype=torch.float64)
    new = ModernHopfield(beta).update(x, queries)
    err = torch.linalg.vector_norm(new - x, dim=1)
    dist = torch.linalg.vector_norm(queries - x, dim=1)
    bound = theorem5_bound(
        delta, dist, n_patterns=n, beta=beta, norm_max=radius, fixed_point_distance=1.0 / (beta * n * radius)
    )
    assert bool((err <= bound).all())
    assert float(err.max()) < 1e-10


def test_global_fixed_point_condition():
    x = sphere_patterns(30, 5, 1.0, 3)  # m_max <= 2
    assert global_fixed_point(x, 0.2)
    assert not global_fixed_point(x, 10.0)


def test_capacity_worked_values():
    first = capacity_bound(1.0, 3.0, 20, 0.001)
    assert first.c == pytest.approx(3.1546, abs=5e-5)
    assert first.condition_holds and round(first.n_guaranteed, 1) == 7.4
    second = capacity_bound(1.0, 1.0, 75, 0.001)
    assert second.c == pytest.approx(1.3719, abs=5e-5)
    assert second.condition_holds and round(second.n_guaranteed, 1) == 11.0


@pytest.mark.parametrize(
    "x", [-1 / math.e + 1e-9, -0.3, -0.1, -1e-8, 1e-12, 0.5, 1.0, 2.99, 3.0, 10.0, 1e3, 1e10, 1e100, 1e300]
)
def test_lambert_w0_matches_scipy(x):
    ref = scipy.special.lambertw(x).real
    assert lambert_w0(x) == pytest.approx(ref, rel=1e-7 if x < -0.36 else 1e-12, abs=1e-300)


def test_lambert_w0_exp_large_arguments():
    for y in [-5.0, 0.0, 50.0, 699.0, 701.0, 1e4, 1e8]:
        w = lambert_w0_exp(y)
        assert w + math.log(w) == pytest.approx(y, rel=1e-12, abs=1e-12)
    assert lambert_w0_exp(100.0) == pytest.approx(scipy.special.lambertw(math.exp(100.0)).real, rel=1e-12)


def test_classical_capacities():
    c64, c100 = classical_capacity(64), classical_capacity(100)
    assert [round(v, 1) for v in c64.values()] == [8.8, 7.7, 3.8]
    assert [round(v, 1) for v in c100.values()] == [13.8, 10.9, 5.4]


def test_separation_of_selected_rows_equals_the_full_computation():
    x = torch.randn(300, 16, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    rows = torch.tensor([5, 17, 299, 0])
    torch.testing.assert_close(separation(x, rows=rows), separation(x)[rows])


def test_separation_in_column_blocks_equals_the_dense_reference(monkeypatch):
    """The Gram matrix streams in (rows x columns) blocks with a running max; every Delta_i (sampled rows
    in any order, their self-products in any block) equals the dense float64 reference, and float32 patterns in
    float64 blocks give the float64 values without a float64 copy."""
    from hopfield_cli.core import theory

    x = sphere_patterns(203, 7, 3.0, 4)
    gram = (x @ x.T).numpy()
    ref = np.diag(gram) - np.where(np.eye(203, dtype=bool), -np.inf, gram).max(axis=1)
    monkeypatch.setattr(theory, "_BLOCK_ELEMS", 64)  # 5-row chunks of 12 columns: many blocks per row
    rows = torch.tensor([202, 0, 37, 36, 150, 11])
    np.testing.assert_allclose(separation(x, chunk=5).numpy(), ref, rtol=1e-12)
    np.testing.assert_allclose(separation(x, chunk=5, rows=rows).numpy(), ref[rows.numpy()], rtol=1e-12)
    x32 = x.float()
    ref32 = separation(x32.double(), chunk=5)
    torch.testing.assert_close(separation(x32, chunk=5, dtype=torch.float64), ref32, rtol=1e-12, atol=0)


def test_streamed_mean_spread_and_norm_equal_the_whole_matrix():
    from hopfield_cli.core.theory import mean_spread, norm_max64, pattern_mean

    x = torch.randn(1000, 5, generator=torch.Generator().manual_seed(5)) * 3 + 1
    xd = x.double()
    torch.testing.assert_close(pattern_mean(x, chunk=64), xd.mean(dim=0), rtol=1e-13, atol=1e-13)
    expected = float(torch.linalg.vector_norm(xd - xd.mean(dim=0), dim=1).max())
    assert mean_spread(x, chunk=64) == pytest.approx(expected, rel=1e-13)
    assert norm_max64(x, chunk=64) == float(torch.linalg.vector_norm(xd, dim=1).max())
