"""The fused CPU kernel and the online-softmax merge of pattern ranges (shards) against the float64 references."""

from __future__ import annotations

import io
import math

import pytest
import torch

from hopfield_cli.core import budget, streaming
from hopfield_cli.core.modern import reference_energy, reference_update

PLAN = budget.ChunkPlan(8, 5, 0)


def _data(n=23, d=6, b=4, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(b, d, generator=g, dtype=dtype)


def _lse_ref(x, q, beta):
    return torch.logsumexp(beta * q.double() @ x.double().T, dim=1) / beta - math.log(x.shape[0]) / beta


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("fused", [True, False])  # False: the chunked kernel, the path device=cuda takes
def test_pass_matches_float64_reference(dtype, fused, monkeypatch):
    monkeypatch.setattr(streaming, "FUSED", fused)
    x, q = _data(n=300, d=16, b=9)
    x, q = x.to(dtype), q.to(dtype)
    res = streaming.softmax_pass(x, q, 2.0, plan=budget.ChunkPlan(4, 64, 0), k90_cap=8)
    tol = 1e-4 if dtype == torch.float32 else 5e-2
    ref = reference_update(x, q, 2.0)
    assert torch.allclose(res.states.double(), ref, atol=tol * 10, rtol=tol * 10)
    assert torch.allclose(res.lse_centered.double(), _lse_ref(x, q, 2.0), atol=tol * 10, rtol=tol)


def test_energy_uses_fused_pass_and_matches_reference():
    x, q = _data(n=200, d=8, b=5, dtype=torch.float32)
    from hopfield_cli.core.modern import ModernHopfield

    e = ModernHopfield(3.0).energy(x, q)
    assert torch.allclose(e.double(), reference_energy(x, q, 3.0), atol=1e-4, rtol=1e-5)


def _units(x, size):
    return [x[i : i + size] for i in range(0, x.shape[0], size)]


def test_sharded_merge_equals_single_pass_bit_for_bit():
    """Tasks each take a range of pattern blocks and hand back their blocks' partials; folding all partials in
    block order equals the single process's pass over the same blocks, bit for bit in float64."""
    x, q = _data(n=41, d=5, b=3)
    beta = 4.0
    single = streaming.fold(streaming.range_partial(u, q, beta, plan=PLAN) for u in _units(x, 7))
    units = _units(x, 7)
    shards = [units[0:2], units[2:5], units[5:]]  # three tasks, ranges of blocks
    files = []
    for shard in shards:  # each task in its own process writes its partials (here: bytes through torch.save)
        buffer = io.BytesIO()
        torch.save([streaming.range_partial(u, q, beta, plan=PLAN) for u in shard], buffer)
        files.append(buffer.getvalue())
    merged = streaming.fold(p for blob in files for p in torch.load(io.BytesIO(blob), weights_only=False))
    assert (
        torch.equal(merged.m, single.m)
        and torch.equal(merged.s, single.s)
        and torch.equal(merged.o, single.o)
    )
    out = streaming.finish(merged, beta, x.shape[0], torch.float64)
    assert torch.allclose(out.states, reference_update(x, q, beta), atol=1e-12)
    assert torch.allclose(out.lse_centered, _lse_ref(x, q, beta), atol=1e-12)


def test_merge_is_the_online_softmax():
    a = streaming.Partial(torch.tensor([0.0]), torch.tensor([2.0]), torch.tensor([[1.0]]))
    b = streaming.Partial(torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor([[3.0]]))
    m = streaming.merge(a, b)
    assert float(m.m) == 1.0 and float(m.s) == pytest.approx(2 * math.exp(-1) + 1)
    assert float(m.o) == pytest.approx(math.exp(-1) + 3)
    with pytest.raises(ValueError):
        streaming.fold([])
