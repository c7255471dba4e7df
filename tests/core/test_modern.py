"""ModernHopfield against the plain float64 Eqs. 2-3 (``reference_update``/``reference_energy``), and its
invariants."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hopfield_cli.core import budget
from hopfield_cli.core.base import HopfieldModel
from hopfield_cli.core.errors import CoreError
from hopfield_cli.core.modern import ModernHopfield, reference_energy, reference_update


def ref_retrieve(x, q, beta, steps_max, eps):
    states, energies, steps = (
        q.clone(),
        [reference_energy(x, q, beta)],
        torch.zeros(q.shape[0], dtype=torch.long),
    )
    active = torch.ones(q.shape[0], dtype=torch.bool)
    for _ in range(steps_max):
        new = reference_update(x, states, beta)
        moved = torch.linalg.vector_norm(new - states, dim=1)
        states = torch.where(active[:, None], new, states)
        steps += active.long()
        active &= moved > eps
        energies.append(reference_energy(x, states, beta))
    return states, torch.stack(energies, dim=1), steps


def make(seed, n, b, d, scale, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(n, d, generator=g, dtype=torch.float64)
    q = x[torch.randint(0, n, (b,), generator=g)] + 0.5 * scale * torch.randn(
        b, d, generator=g, dtype=torch.float64
    )
    return x.to(dtype), q.to(dtype)


cases = dict(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(1, 60),
    b=st.integers(1, 20),
    d=st.integers(1, 24),
    scale=st.sampled_from([0.1, 0.5, 1.0, 2.0]),
    beta=st.sampled_from([0.05, 0.5, 1.0, 4.0, 16.0]),
)


def test_is_a_hopfield_model():
    assert isinstance(ModernHopfield(1.0), HopfieldModel)
    assert ModernHopfield(1.0).name == "modern"
    with pytest.raises(ValueError):
        ModernHopfield(0.0)
    with pytest.raises(CoreError) as info:
        ModernHopfield(float("inf"))
    assert info.value.param == "beta"


@pytest.mark.slow
@settings(deadline=None, max_examples=40)
@given(**cases)
def test_matches_float64_reference(seed, n, b, d, scale, beta):
    x, q = make(seed, n, b, d, scale)
    model = ModernHopfield(beta)
    torch.testing.assert_close(model.update(x, q), reference_update(x, q, beta), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.energy(x, q), reference_energy(x, q, beta), atol=1e-5, rtol=1e-7)
    res = model.retrieve(x, q, update_steps_max=4, eps=1e-9)
    states, energies, steps = ref_retrieve(x, q, beta, 4, 1e-9)
    torch.testing.assert_close(res.states, states, atol=1e-5, rtol=0)
    torch.testing.assert_close(res.energies, energies, atol=1e-5, rtol=1e-7)
    assert torch.equal(res.steps, steps)
    p = torch.softmax(beta * states @ x.T, dim=1)
    torch.testing.assert_close(res.max_weight, p.max(dim=1).values, atol=1e-9, rtol=0)


@settings(deadline=None, max_examples=40)
@given(**cases, qc=st.integers(1, 7), pc=st.integers(1, 13))
def test_forced_tiny_chunks_match_the_reference(seed, n, b, d, scale, beta, qc, pc):
    """The streaming pass (online softmax over pattern chunks, Eq. 3 and Eq. 2) equals the plain equations."""
    x, q = make(seed, n, b, d, scale)
    model = ModernHopfield(beta, query_chunk=qc, pattern_chunk=pc)
    torch.testing.assert_close(model.update(x, q), reference_update(x, q, beta), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.energy(x, q), reference_energy(x, q, beta), atol=1e-5, rtol=1e-7)


@settings(deadline=None, max_examples=25)
@given(**cases)
def test_float32_close_to_float64_reference(seed, n, b, d, scale, beta):
    x, q = make(seed, n, b, d, scale, torch.float32)
    new = ModernHopfield(beta).update(x, q)
    ref = reference_update(x.double(), q.double(), beta)
    # float32 scores carry ~1e-7 relative error, amplified by beta * |score| in the softmax
    tol = 1e-5 * (1 + beta * scale**2 * d) * scale
    torch.testing.assert_close(new.double(), ref, atol=tol, rtol=0)


@settings(deadline=None, max_examples=40)
@given(**cases, dtype=st.sampled_from([torch.float32, torch.float64]))
def test_energy_never_increases(seed, n, b, d, scale, beta, dtype):
    """Theorems 1-2 (CCCP): E(xi_{t+1}) <= E(xi_t), up to rounding relative to the energy's terms."""
    x, q = make(seed, n, b, d, scale, dtype)
    res = ModernHopfield(beta).retrieve(x, q, update_steps_max=6, eps=0.0)
    e = res.energies.double()
    terms = (scale**2) * d * 4 + 1.0  # size of 1/2 xi^T xi + 1/2 M^2 + lse
    tol = (1e-12 if dtype == torch.float64 else 1e-5) * terms
    assert bool((e[:, 1:] <= e[:, :-1] + tol).all())
    assert bool((e >= -tol).all())  # E >= 0


def test_zero_steps_and_convergence_bookkeeping():
    x, q = make(0, 20, 5, 8, 1.0)
    model = ModernHopfield(8.0)
    res = model.retrieve(x, q, update_steps_max=0, eps=1e-6)
    assert torch.equal(res.states, q) and res.energies.shape == (5, 1)
    assert res.steps.tolist() == [0] * 5 and not bool(res.converged.any())
    torch.testing.assert_close(res.energies[:, 0], reference_energy(x, q, 8.0))
    res = model.retrieve(x, q, update_steps_max=50, eps=1e-10)
    assert bool(res.converged.all()) and int(res.steps.max()) < 50
    last = res.energies.gather(1, res.steps[:, None]).squeeze(1)
    assert bool((res.energies[:, -1] == last).all())  # converged rows repeat their last value


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beta", [1e-6, 1e-3, 1.0, 1e3, 1e6])
@pytest.mark.parametrize("norm", [1e-6, 1.0, 1e4])
def test_finite_at_extremes(dtype, beta, norm):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 16, generator=g, dtype=dtype)
    x = norm * x / torch.linalg.vector_norm(x, dim=1, keepdim=True)
    q = x[:7] + 0.1 * norm * torch.randn(7, 16, generator=g, dtype=dtype)
    for model in (ModernHopfield(beta), ModernHopfield(beta, query_chunk=3, pattern_chunk=9)):
        res = model.retrieve(x, q, update_steps_max=3, eps=0.0)
        for t in (res.states, res.energies, res.max_weight):
            assert bool(torch.isfinite(t).all())
        assert bool((res.k90 >= 1).all())


def test_tiny_beta_energy_is_accurate():
    """At beta=1e-6, -lse + log(N)/beta = -mean(x^T xi) - beta/2 Var(x^T xi) + O(beta^2): no cancellation."""
    x, q = make(3, 50, 4, 6, 1.0)
    beta = 1e-6
    z = q @ x.T
    big_m = torch.linalg.vector_norm(x, dim=1).max()
    expected = -z.mean(1) - beta / 2 * z.var(1, unbiased=False) + 0.5 * (q * q).sum(1) + 0.5 * big_m**2
    torch.testing.assert_close(ModernHopfield(beta).energy(x, q), expected, atol=1e-10, rtol=1e-12)
    e32 = ModernHopfield(beta).energy(x.float(), q.float()).double()
    torch.testing.assert_close(e32, expected, atol=1e-4, rtol=1e-5)


def test_bfloat16_runs_and_is_close():
    x, q = make(5, 100, 9, 16, 1.0, torch.float32)
    ref = ModernHopfield(2.0).retrieve(x, q, update_steps_max=2, eps=0.0)
    res = ModernHopfield(2.0).retrieve(x.bfloat16(), q.bfloat16(), update_steps_max=2, eps=0.0)
    assert res.states.dtype == torch.bfloat16 and res.energies.dtype == torch.float32
    torch.testing.assert_close(res.states.float(), ref.states, atol=0.1, rtol=0.05)
    torch.testing.assert_close(res.energies, ref.energies, atol=0.2, rtol=0.05)


@pytest.mark.parametrize("memory_budget", [None, 1 << 20])
def test_budget_resolved_and_planned_once_per_call(monkeypatch, memory_budget):
    """Free memory is read at most once per call and every step of a retrieve uses the plans made at its start."""
    reads, plans = [], []
    real_plan = budget.plan_chunks

    def fake_free(device="cpu"):
        reads.append(device)
        return (64 >> len(reads)) * budget.GIB  # shrinks on every read: a second read would change the plan

    def spy_plan(*args, **kwargs):
        plans.append(kwargs["memory_budget"])
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(budget, "available_memory", fake_free)
    monkeypatch.setattr(budget, "plan_chunks", spy_plan)
    x, q = make(0, 30, 6, 8, 1.0)
    model = ModernHopfield(0.05, memory_budget=memory_budget)
    res = model.retrieve(x, q, update_steps_max=10, eps=0.0)
    assert int(res.steps.min()) == 10  # all ten steps ran
    assert len(reads) == 1  # estimate_memory's check against free memory; the default budget reuses it
    assert len(plans) == 2 and len(set(plans)) == 1  # one plan for the steps, one for the final pass
    reads.clear()
    model.energy(x, q)
    model.update(x, q)
    assert len(reads) == (2 if memory_budget is None else 0)
