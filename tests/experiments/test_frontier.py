"""The exponential frontier: drawn patterns equal the held stream, the crossing search, the exact theory."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from omegaconf import OmegaConf

from hopfield_cli.core import theory
from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.experiments.capacity_sweep.bank import BLOCK_ROWS, PatternBank
from hopfield_cli.experiments.capacity_sweep.schedule import next_n_crossing
from hopfield_cli.experiments.scoring import NOT_SEARCHED


def _bank(name="binary", normalise="none", d=12):
    cfg = OmegaConf.create(
        {"patterns": {"name": name}, "seed": 3, "n_max": 10**9, "normalise": normalise, "binarise": False}
    )
    return PatternBank(cfg, d, None)


@pytest.mark.parametrize("name,normalise", [("binary", "none"), ("gaussian", "unit")])
def test_drawn_patterns_equal_todays_stream(name, normalise):
    bank = _bank(name, normalise)
    n = 2 * BLOCK_ROWS + 5
    drawn, held = bank.drawn(1, n), bank.prefix(1, n)
    assert drawn.shape == held.shape and bank.streams()
    assert torch.equal(drawn[0:n], held) and torch.equal(
        drawn[BLOCK_ROWS - 3 : BLOCK_ROWS + 4], held[BLOCK_ROWS - 3 : BLOCK_ROWS + 4]
    )
    ids = torch.tensor([0, BLOCK_ROWS + 1, n - 1])
    assert torch.equal(drawn[ids], held[ids])
    from hopfield_cli.core.streaming import max_norm

    assert max_norm(drawn) == max_norm(held)
    q = held[:6].clone()
    q[:, :3] *= -1
    model = ModernHopfield(4.0)
    a = model.retrieve(drawn, q, update_steps_max=5, eps=1e-6, stats=False)
    b = model.retrieve(held, q, update_steps_max=5, eps=1e-6, stats=False)
    assert torch.equal(a.states, b.states) and torch.equal(a.steps, b.steps)


def test_huge_n_holds_no_rows():
    bank = _bank()
    drawn = bank.drawn(0, 10**9)  # 48 GB if held
    assert drawn.shape == (10**9, 12) and drawn[10**9 - 2 : 10**9].shape == (2, 12)
    assert bank.kept_bytes <= 2 * BLOCK_ROWS * 12 * 4


def _cfg(**kw):
    base = dict(threshold=0.9, n_start=4, growth=8.0, refine_steps=6)
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("true_n", [700, 3000, 123456])
def test_crossing_search_lands_near_the_crossing(true_n):
    """Rates of argmax retrieval, 0.9^((N - 1) / (N* - 1)): the search brackets N* within 10% in few cells."""
    cfg, rates = _cfg(), {}
    while (n := next_n_crossing(rates, cfg, 10**9)) is not None:
        rates[n] = 0.9 ** ((n - 1) / (true_n - 1)) - 1e-9
        assert len(rates) < 20
    capacity = max(n for n, r in rates.items() if r >= 0.9)
    assert 0.85 * true_n <= capacity <= true_n
    assert sum(n for n in rates if n > 2 * true_n) <= 4 * true_n  # little work far above the crossing


def test_argmax_theory_values():
    assert theory.argmax_capacity(128, 32) == pytest.approx(1.641e7, rel=1e-3)
    assert theory.argmax_capacity(64, 16) == pytest.approx(2726, rel=1e-3)
    q = sum(math.comb(10, k) for k in range(3)) / 2**10
    assert theory.argmax_capacity(10, 2, 0.5) == pytest.approx(1 + math.log(0.5) / math.log(1 - q))


def test_sign_draws_keep_the_int64_stream():
    """uint8 draws (5x faster) give the values of torch.randint's int64 stream and leave the generator where
    it left it: every stored pattern, and whatever a generator draws after them, is as before."""
    from hopfield_cli.data.patterns import binary

    for seed, shape in [(0, (4096, 12)), (2**62 + 7, (5, 131))]:
        new_gen, old_gen = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
        old = torch.randint(0, 2, shape, generator=old_gen).to(torch.float32) * 2 - 1
        assert torch.equal(binary(*shape, new_gen), old)
        assert torch.equal(torch.rand(3, generator=new_gen), torch.rand(3, generator=old_gen))


@pytest.mark.parametrize("d", [12, 16])
def test_packed_bit_cache_reads_the_same_rows(d):
    """+-1 blocks kept as packed bits (d = 12: a partial byte) read back as the drawn rows, cached or not."""
    bank = _bank(d=d)
    n = BLOCK_ROWS + 9
    first = bank.drawn(0, n)[0:n].clone()
    assert bank.packs_bits() and bank.kept_bytes == 2 * BLOCK_ROWS * (-(-d // 8))
    assert torch.equal(first, bank.drawn(0, n)[0:n]) and torch.equal(first, bank.prefix(0, n))
    assert torch.equal(bank.prepared_block(0, 1)[:9], first[BLOCK_ROWS:])


def test_nearest_shortcut_decides_as_the_full_pass():
    """score(separation=2) on +-1 patterns: the same nearest ids, distances and successes as the full pass."""
    from hopfield_cli.experiments.scoring import score

    bank = _bank(d=16)
    x = bank.prefix(0, 300)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randperm(300, generator=gen)[:40]
    q = x[ids].clone()
    flips = torch.rand(q.shape, generator=gen) < 0.3
    q[flips] *= -1
    model = ModernHopfield(2.0)
    kw = dict(update_steps_max=20, eps=1e-5, criterion="nearest", stats=False)
    full, short = score(model, x, q, ids, **kw), score(model, x, q, ids, separation=2.0, **kw)
    searched = short.nearest_ids != NOT_SEARCHED
    assert torch.equal(full.success, short.success)
    assert torch.equal(full.nearest_ids[searched], short.nearest_ids[searched])
    assert torch.allclose(full.nearest_distance[searched], short.nearest_distance[searched], atol=1e-5)
    assert 0 < int(full.success.sum()) < 40  # both kinds of queries
    # not searched: exactly the states beyond tol (0.25) of their targets, each a failure of the full pass
    rel = (full.states.double() - x[ids].double()).norm(dim=1) / x[ids].double().norm(dim=1)
    assert (
        torch.equal(~searched, rel > 0.25)
        and 0 < int((~searched).sum())
        and not full.success[~searched].any()
    )


def test_hopeless_states_get_no_nearest_pass(monkeypatch):
    """At the frontier a failed query holds another pattern: its success test needs no pass over all N."""
    from hopfield_cli.core import nearest
    from hopfield_cli.experiments.scoring import score

    x = _bank(d=16).prefix(0, 200)
    ids = torch.arange(10)
    q = x[ids].clone()
    q[:5] = x[100:105]  # five queries sit on other patterns: they retrieve those, far from their targets
    searched_rows = []
    real = nearest.nearest_patterns
    monkeypatch.setattr(nearest, "nearest_patterns", lambda p, s: searched_rows.append(len(s)) or real(p, s))
    kw = dict(update_steps_max=3, eps=1e-5, criterion="nearest", stats=False, separation=2.0)
    out = score(ModernHopfield(8.0), x, q, ids, **kw)
    assert out.success.tolist() == [False] * 5 + [True] * 5
    assert out.nearest_ids[:5].tolist() == [NOT_SEARCHED] * 5 and searched_rows == []


def test_n_max_null_grows_drawn_patterns_until_the_crossing():
    from hopfield_cli.experiments.capacity_sweep.schedule import (
        HELD_N_MAX,
        UNBOUNDED_N,
        n_limit,
        resolved,
        search_mode,
    )

    def cfg(**kw):
        base = {"patterns": {"name": "binary"}, "memory": None, "models": ["modern"], "normalise": "none"}
        return OmegaConf.create({**base, "n_max": None, "search": "auto", **kw})

    assert n_limit(cfg()) == UNBOUNDED_N and search_mode(cfg()) == "ladder"
    assert search_mode(cfg(shards=4)) == "crossing"  # a ladder's pass is not sharded
    held = cfg(models=["modern", "classical"])
    assert n_limit(held) == HELD_N_MAX and search_mode(held) == "grow"
    assert resolved(held).n_max == 1_000_000 and resolved(held).search == "grow"  # the earlier fingerprint
    assert n_limit(cfg(n_max=5000)) == 5000 and search_mode(cfg(n_max=5000)) == "grow"
    assert search_mode(cfg(search="crossing", models=["classical"])) == "crossing"
