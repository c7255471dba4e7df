"""The sparse-tail pass (``core.tail_pass``) against the float64 references and the chunked kernel."""

from __future__ import annotations

import math

import pytest
import torch

from hopfield_cli.core import budget, streaming, tail_pass
from hopfield_cli.core.modern import reference_update


def _signs(n, d, b, seed=0, flip=0.25):
    """+-1 patterns and queries with a fraction ``flip`` of a stored pattern's bits flipped (the frontier)."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.randint(0, 2, (n, d), generator=g) * 2 - 1).double()
    q = x[torch.randint(0, n, (b,), generator=g)].clone()
    q[torch.rand(b, d, generator=g) < flip] *= -1
    return x, q


def _sphere(n, d, b, radius, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, q = (
        torch.randn(n, d, generator=g, dtype=torch.float64),
        torch.randn(b, d, generator=g, dtype=torch.float64),
    )
    return x / x.norm(dim=1, keepdim=True) * radius, q / q.norm(dim=1, keepdim=True) * radius


def _lse_ref(x, q, beta):
    return torch.logsumexp(beta * q @ x.T, dim=1) / beta - math.log(x.shape[0]) / beta


CASES = {  # (patterns, queries, beta): sparse weights, dense weights, a mixture
    "signs beta 8 (frontier)": (*_signs(5000, 32, 40), 8.0),
    "sphere beta 1 (dense)": (*_sphere(3000, 16, 9, 2.0), 1.0),
    "sphere beta 30 (sparse)": (*_sphere(6000, 24, 17, 8.0), 30.0),
    "gaussian beta 2": (*_sphere(4000, 8, 5, 3.0, seed=4), 2.0),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pass_matches_float64_reference(case, dtype, monkeypatch):
    """softmax_pass on the sparse-tail path (tiles of 64 so that tiles are skipped) equals Eq. 3 and the lse."""
    monkeypatch.setattr(tail_pass, "TILE", 64)
    x, q, beta = CASES[case]
    res = streaming.softmax_pass(x.to(dtype), q.to(dtype), beta, plan=budget.ChunkPlan(8, 512, 0), k90_cap=4)
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    scale = float(x.abs().max())
    assert torch.allclose(res.states.double(), reference_update(x, q, beta), atol=tol * scale, rtol=0)
    assert torch.allclose(res.lse_centered.double(), _lse_ref(x, q, beta), atol=tol * 10 * scale, rtol=0)


def test_skipped_tiles_change_nothing(monkeypatch):
    """A tile with no live row would add exact zeros: the pass equals the chunked kernel cut at the same tiles
    (float64, to rounding of the products), and on the frontier's patterns most tiles are skipped."""
    monkeypatch.setattr(tail_pass, "TILE", 128)
    x, q, beta = (*_signs(20_000, 32, 30, seed=2), 8.0)
    seen = []
    real_nonzero = torch.Tensor.nonzero
    monkeypatch.setattr(
        torch.Tensor, "nonzero", lambda t, *a, **k: seen.append(t.numel()) or real_nonzero(t, *a, **k)
    )
    tail = tail_pass.tail_partial(x, q * beta, chunk_rows=4096, with_states=True, may_stop=False)
    monkeypatch.setattr(torch.Tensor, "nonzero", real_nonzero)
    assert tail.stopped == x.shape[0] and len(seen) == -(-20_000 // 128)
    monkeypatch.setattr(tail_pass, "ENABLED", False)
    monkeypatch.setattr(streaming, "FUSED", False)
    chunked = streaming.softmax_pass(x, q, beta, plan=budget.ChunkPlan(30, 128, 0), k90_cap=4)
    out = streaming.finish(tail.partial, beta, x.shape[0], torch.float64)
    assert torch.allclose(out.states, chunked.states, atol=1e-13, rtol=0)
    assert torch.allclose(out.lse_centered, chunked.lse_centered, atol=1e-12, rtol=0)


def test_live_rows_thin_out_on_the_frontier(monkeypatch):
    """On +-1 patterns at beta = 8 the rows with a score above their running maximum + floor become rare."""
    x, q = _signs(60_000, 128, 64, seed=5)
    x, q = x.float(), q.float()
    counts = []
    real = torch.Tensor.nonzero

    def count(t, *a, **k):
        out = real(t, *a, **k)
        counts.append(out.shape[0])
        return out

    monkeypatch.setattr(torch.Tensor, "nonzero", count)
    tail_pass.tail_partial(x, q * 8.0, chunk_rows=8192, with_states=True, may_stop=False)
    assert counts[0] == 64  # the first tile: every row (m = -inf)
    assert sum(counts[-10:]) < 0.5 * sum(counts[:10])  # the last ten tiles: half as many live rows or fewer


def test_dense_weights_go_to_the_fused_kernel(monkeypatch):
    """Nearly every row live over a window (a small beta): the pass stops and the fused kernel takes the rest;
    the merged result still equals the float64 reference."""
    monkeypatch.setattr(tail_pass, "TILE", 16)
    monkeypatch.setattr(tail_pass, "WINDOW", 2)
    monkeypatch.setattr(tail_pass, "PROBE_TILES", 4)
    x, q = _sphere(2000, 8, 6, 2.0, seed=7)
    x, q = x.float(), q.float()
    tail = tail_pass.tail_partial(x, q * 1.0, chunk_rows=512, with_states=True, may_stop=True)
    assert tail.stopped == 4 * 16  # the first window after the probe
    sparse = tail_pass.tail_partial(x, q * 1.0, chunk_rows=512, with_states=True, may_stop=False)
    assert sparse.stopped == 2000
    res = streaming.softmax_pass(x, q, 1.0, plan=budget.ChunkPlan(8, 512, 0), k90_cap=4)
    assert torch.allclose(res.states.double(), reference_update(x, q, 1.0), atol=1e-5, rtol=0)


def test_only_cpu_float_passes_take_it():
    assert tail_pass.available(torch.float32, torch.device("cpu"))
    assert tail_pass.available(torch.float64, torch.device("cpu"))
    assert not tail_pass.available(torch.bfloat16, torch.device("cpu"))
    assert not tail_pass.available(torch.float32, torch.device("cuda"))
