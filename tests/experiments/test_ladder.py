"""search=ladder: one pass measures every N of a ladder (``core.prefix_pass``), against one pass per N."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.core.prefix_pass import retrieve_prefixes
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.capacity_sweep.schedule import ladder, next_ladder, next_n_crossing
from tests.experiments.test_capacity_sweep import sweep


def _signs(n, d, b, seed=0, targets=None):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randint(0, 2, (n, d), generator=g) * 2 - 1).double()
    ids = torch.randint(0, targets or n, (b,), generator=g)
    q = x[ids].clone()
    q[torch.rand(b, d, generator=g) < 0.25] *= -1
    return x, q, ids


@pytest.mark.parametrize("beta,steps", [(8.0, 1), (8.0, 30), (0.4, 30)])
def test_every_prefix_equals_its_own_retrieval(beta, steps):
    """The states, steps and convergence of each memory X[:N_k] equal ModernHopfield.retrieve on X[:N_k]
    (float64): one-hot weights at beta = 8 and a long iteration at beta = 0.4."""
    x, q, _ = _signs(9000, 48, 25, targets=300)
    checkpoints = [300, 1000, 1024, 4500, 9000]
    got = retrieve_prefixes(beta, x, q, checkpoints, update_steps_max=steps, eps=1e-9)
    for k, n in enumerate(checkpoints):
        ref = ModernHopfield(beta).retrieve(x[:n], q, update_steps_max=steps, eps=1e-9, stats=False)
        assert torch.allclose(got.states[k], ref.states, atol=1e-12, rtol=0)
        assert torch.equal(got.steps[k], ref.steps) and torch.equal(got.converged[k], ref.converged)
    distinct = 25 * (1 if steps == 1 else len(checkpoints))  # states differ between memories after a step
    assert 25 * 9000 <= got.products <= steps * distinct * 9000


def test_checkpoints_are_checked():
    x, q, _ = _signs(100, 8, 3)
    for bad in ([], [5, 5], [7, 3], [0, 10], [50, 101]):
        with pytest.raises(ValueError, match="checkpoint"):
            retrieve_prefixes(1.0, x, q, bad, update_steps_max=1, eps=1e-6)


def test_ladder_rungs():
    assert ladder(0, 64) == [64]
    rungs = ladder(1000, 8000)
    assert rungs[-1] == 8000 and rungs[0] > 1000 and rungs == sorted(set(rungs))
    assert all(b / a <= 1.051 for a, b in zip(rungs, rungs[1:], strict=False))
    assert ladder(10, 11) == [11]


def _cfg(**kw):
    base = dict(threshold=0.9, n_start=4, growth=8.0, refine_steps=6, num_queries=64)
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("true_n", [40, 3000, 123456, 16_400_000])
def test_ladder_search_lands_within_five_percent(true_n):
    """Argmax retrieval rates 0.9^((N - 1) / (N* - 1)): the crossing is bracketed to 5% (or by the crossing
    search's refinement below num_queries), and the ladders' passes read few patterns beyond N*."""
    cfg, rates, passes = _cfg(), {}, []
    while (cell := next_ladder(rates, cfg, 10**12)) is not None:
        targets, ns = cell
        assert ns == sorted(ns) and (targets is None) == (len(ns) == 1) or targets < ns[0]
        passes.append(ns[-1])
        for n in ns:
            rates[n] = 0.9 ** ((n - 1) / (true_n - 1)) - 1e-9
        assert len(passes) < 20
    capacity = max(n for n, r in rates.items() if r >= 0.9)
    first_fail = min(n for n, r in rates.items() if r < 0.9)
    assert capacity <= true_n <= first_fail
    if true_n > 64 * 8:  # ladders: the crossing to 5%, ~2 passes near N* (the crossing search: ~5 N*)
        assert first_fail <= capacity * 1.051
        assert len([n for n in passes if n > true_n / 20]) <= 3 and sum(passes) <= 2.5 * true_n


def test_below_num_queries_it_is_the_crossing_search():
    """Cells of one N while N < num_queries: the crossing search's Ns, its refinement included."""
    cfg, a, b = _cfg(num_queries=10**6), {}, {}
    while (cell := next_ladder(a, cfg, 10**9)) is not None:
        n = next_n_crossing(b, cfg, 10**9)
        assert cell == (None, [n])
        a[n] = b[n] = 0.9 ** ((n - 1) / 2999)
    assert next_n_crossing(b, cfg, 10**9) is None


SMALL = ("models=[modern]", "dims=[40]", "trials=2", "num_queries=32", "search=ladder", "plots=false")


def test_ladder_sweep_rows_equal_one_retrieval_per_n(tmp_path):
    """A ladder's rows: for its queries, the successes of ModernHopfield.retrieve at every N of it."""
    from hopfield_cli.experiments import queries as query_maker
    from hopfield_cli.experiments.capacity_sweep.bank import PatternBank, generator
    from hopfield_cli.experiments.scoring import score
    from tests.experiments.test_capacity_sweep import make_cfg

    sweep(tmp_path, *SMALL)
    results = pd.read_csv(tmp_path / "results.csv")
    ladders = results[results.pass_n.notna() & (results.pass_n != results.num_patterns)]
    assert len(ladders) > 10
    cfg = make_cfg(*SMALL)
    bank = PatternBank(cfg, 40, None)
    top = int(ladders.pass_n.iloc[0])
    rows = results[(results.pass_n == top) & (results.trial == 1)].sort_values("num_patterns")
    targets = int(results[results.num_patterns < rows.num_patterns.min()].num_patterns.max())
    gen = generator(cfg.seed, "queries", 40, 1, "ladder", targets, top)
    q, ids = query_maker.corrupted(
        bank.prefix(1, targets), cfg.corruption, 32, gen, sample=query_maker.few_target_ids
    )
    for n, successes in zip(rows.num_patterns, rows.successes, strict=True):
        scored = score(
            ModernHopfield(8.0),
            bank.prefix(1, n),
            q,
            ids,
            update_steps_max=100,
            eps=1e-5,
            criterion="nearest",
        )
        assert int(scored.success.sum()) == successes
    assert rows.products.iloc[:-1].eq(0).all() and rows.products.iloc[-1] > 0


def test_ladder_sweep_resumes_a_torn_ladder(tmp_path):
    """A ladder killed while its Ns were being logged: the resumed sweep logs the missing Ns only and ends with
    the uninterrupted table."""
    whole = tmp_path / "whole"
    sweep(whole, *SMALL)
    lines = (whole / "cells.jsonl").read_text().splitlines(keepends=True)
    k = len(lines) - 3  # the last ladder's three largest Ns lost
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "sweep.json").write_text((whole / "sweep.json").read_text())
    (killed / "cells.jsonl").write_text("".join(lines[:k]))
    sweep(tmp_path / "unused", *SMALL, f"resume={killed}")
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["cells_resumed"] == k and summary["cells_computed"] == 3
    a = pd.read_csv(whole / "capacity.csv")
    b = pd.read_csv(killed / "capacity.csv")
    pd.testing.assert_frame_equal(a, b)
    cols = ["num_patterns", "trial", "successes"]
    ra, rb = pd.read_csv(whole / "results.csv"), pd.read_csv(killed / "results.csv")
    pd.testing.assert_frame_equal(ra[cols], rb[cols])


def test_ladder_needs_the_modern_network_on_drawn_patterns(tmp_path):
    for extra in ("models=[modern,classical]", "shards=2"):
        with pytest.raises(UsageError, match="search"):
            sweep(tmp_path, *SMALL, extra)


def test_few_target_ids_are_distinct_uniform_and_small():
    """B distinct ids without a permutation of n: at n = 1.4e8 no 1.1 GB randperm (tracemalloc would not see
    torch's allocations, so the draw is checked by its size: 2 B ids a round)."""
    from hopfield_cli.experiments.queries import few_target_ids, target_ids

    gen = torch.Generator().manual_seed(0)
    ids = few_target_ids(140_000_000, 512, gen)
    assert ids.shape == (512,) and ids.unique().numel() == 512 and int(ids.max()) < 140_000_000
    small = torch.cat([few_target_ids(10, 3, torch.Generator().manual_seed(s)) for s in range(3000)])
    counts = torch.bincount(small, minlength=10).double()
    assert (counts - 900).abs().max() < 120  # uniform: 9,000 ids over 10 patterns, sd ~28
    same = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(few_target_ids(10, 6, same[0]), target_ids(10, 6, same[1]))  # B > n / 2: rounds
