"""The streaming engine: chunked equals unchunked, exact max weight and k90."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hopfield_cli.core import budget, streaming
from hopfield_cli.core.modern import ModernHopfield


def k90_numpy(p: np.ndarray) -> np.ndarray:
    csum = np.cumsum(-np.sort(-p, axis=1), axis=1)
    return np.argmax(csum >= 0.9 * (1 - 1e-12), axis=1) + 1


def make(seed, n, b, d, scale, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n, d, generator=g, dtype=torch.float64)
    q = x[torch.randint(0, n, (b,), generator=g)] + scale * torch.randn(
        b, d, generator=g, dtype=torch.float64
    )
    return x.to(dtype), q.to(dtype)


@settings(deadline=None, max_examples=40)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 200),
    b=st.integers(1, 40),
    d=st.integers(1, 16),
    beta=st.sampled_from([1e-4, 0.1, 1.0, 8.0, 100.0]),
    block_budget=st.sampled_from([3000, 8000, 30000]),
)
def test_tiny_budget_chunked_equals_unchunked(seed, n, b, d, beta, block_budget):
    """A budget of a few hundred bytes forces many query and pattern chunks; results must not change."""
    x, q = make(seed, n, b, d, 1.0)
    whole = ModernHopfield(beta, memory_budget=1 << 30)
    tiny = ModernHopfield(beta, memory_budget=block_budget, k90_cap=16)
    plan = tiny._plan(x, b, with_stats=True, memory_budget=block_budget)
    assert plan.block_bytes <= block_budget
    a = whole.retrieve(x, q, update_steps_max=3, eps=1e-12)
    c = tiny.retrieve(x, q, update_steps_max=3, eps=1e-12)
    torch.testing.assert_close(c.states, a.states, atol=1e-10, rtol=0)
    torch.testing.assert_close(c.energies, a.energies, atol=1e-10, rtol=1e-12)
    torch.testing.assert_close(c.max_weight, a.max_weight, atol=1e-12, rtol=1e-10)
    assert torch.equal(c.steps, a.steps)
    if c.k90_cap is None:
        assert torch.equal(c.k90, a.k90)
    else:  # streamed: exact up to the cap
        assert c.k90_cap == 16 and torch.equal(c.k90, a.k90.clamp(max=16))


@settings(deadline=None, max_examples=30)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(2, 400),
    b=st.integers(1, 30),
    beta=st.sampled_from([0.01, 1.0, 5.0, 30.0]),
    qc=st.integers(1, 16),
    pc=st.integers(1, 64),
)
def test_exact_k90_and_max_weight_streaming_vs_dense(seed, n, b, beta, qc, pc):
    x, q = make(seed, n, b, 8, 0.7)
    p = torch.softmax(beta * q @ x.T, dim=1).numpy()
    cap = 32
    res = streaming.softmax_pass(
        x, q, beta, plan=budget.ChunkPlan(qc, pc, 0), with_states=False, with_stats=True, k90_cap=cap
    )
    np.testing.assert_allclose(res.max_weight.numpy(), p.max(axis=1), rtol=1e-10)
    ref = k90_numpy(p)
    if pc >= n or cap >= n:  # exact in one block, or a cap that holds every weight
        assert res.k90_cap is None
        np.testing.assert_array_equal(res.k90.numpy(), ref)
    else:
        assert res.k90_cap == cap
        np.testing.assert_array_equal(res.k90.numpy(), np.minimum(ref, cap))
