"""`hopfield capacity-sweep`: adaptive N, capacities against theory, nothing lost on a kill, resume."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch

from hopfield_cli.app.run.tasks import as_usage_error
from hopfield_cli.core.errors import CoreError
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.capacity_sweep import sweep as capacity_sweep
from hopfield_cli.experiments.capacity_sweep.schedule import clearly_failed, next_n
from hopfield_cli.experiments.capacity_sweep.sweep import sweep_fingerprint
from tests.conftest import compose

# Columns that may differ between two runs of the same sweep (wall time).
# work this process did, not results: a resumed run redraws the blocks the whole run had kept in its cache
TIMING = ["seconds", "patterns_drawn"]


def make_cfg(*overrides: str):
    return compose("capacity_sweep", "plots=false", *overrides)


def sweep(run_dir: Path, *overrides: str) -> pd.DataFrame:
    """Run the experiment on a checked typed config; a core error becomes the shell's UsageError."""
    try:
        return capacity_sweep.run(make_cfg(*overrides), run_dir)
    except CoreError as exc:
        raise as_usage_error(exc) from None


def row(capacity: pd.DataFrame, model: str, dim: int | None = None) -> pd.Series:
    rows = capacity[(capacity.model == model) & ((capacity.dim == dim) if dim else True)]
    assert len(rows) == 1
    return rows.iloc[0]


# --- pieces -------------------------------------------------------------------------------------------


def test_next_n_grows_then_bisects_the_crossing():
    cfg = make_cfg("n_start=4", "growth=4", "refine_steps=4", "threshold=0.9")
    true_capacity = 100  # a step function: rate 1 up to N = 100, then 0
    rates: dict[int, float] = {}
    order = []
    while (n := next_n(rates, cfg, limit=10**6)) is not None:
        order.append(n)
        rates[n] = 1.0 if n <= true_capacity else 0.0
    # growth stops at the first clear failure (rate 0 at 256: issue 14, no cell at 1024), bisection starts
    # at 64..256
    assert order[:5] == [4, 16, 64, 256, 64 + 64]
    assert len(order) == 4 + 4  # 4 growth cells + 4 refinement cells
    passing = max(n for n in order if rates[n] == 1.0)
    failing = min(n for n in order if rates[n] == 0.0)
    assert passing <= true_capacity < failing and failing / passing < 1.2
    # Replaying the finished rates gives the same answer: nothing left to do.
    assert next_n(rates, cfg, limit=10**6) is None


def test_next_n_grows_once_more_only_after_a_rate_not_far_below_threshold():
    """A rate between a quarter of the threshold and the threshold may be a dip of the estimate, and the curve
    should be seen falling: one more N is tried. A rate at a quarter or less (or 0) ends the growth at once:
    the next cell would be the series' costliest (issue 14: 95 s of a 155 s sweep)."""
    cfg = make_cfg("n_start=4", "growth=4", "refine_steps=0", "threshold=0.9")
    assert clearly_failed(0.0, cfg) and clearly_failed(0.2, cfg)
    assert not clearly_failed(0.5, cfg)
    assert next_n({4: 1.0, 16: 0.5}, cfg, limit=10**6) == 64  # one more N
    assert next_n({4: 1.0, 16: 0.5, 64: 0.3}, cfg, limit=10**6) is None  # below twice: done
    assert next_n({4: 1.0, 16: 0.2}, cfg, limit=10**6) is None  # clearly failed: done


def test_next_n_censored_and_below_start():
    cfg = make_cfg("n_start=4", "growth=2", "refine_steps=3")
    rates: dict[int, float] = {}
    while (n := next_n(rates, cfg, limit=20)) is not None:
        rates[n] = 1.0  # never fails: stops at the limit
    assert max(rates) == 20
    rates = {}
    while (n := next_n(rates, cfg, limit=20)) is not None:
        rates[n] = 0.0  # always fails: bisects down towards N = 1
    assert min(rates) == 1


def test_fingerprint_holds_the_result_fields_and_only_the_families_in_use():
    cfg = make_cfg("models=[modern,classical]")
    fields = sweep_fingerprint(cfg, None)
    assert {"families.modern", "families.classical"} <= set(fields)
    assert not any(k in fields for k in ("families.dense", "families.exponential", "families.sparse"))
    assert not any(k in fields for k in ("resume", "plots", "device", "memory_budget"))
    assert fields["pattern_block_rows"] == capacity_sweep.BLOCK_ROWS and "memory_checksum" not in fields
    assert fields["patterns"] == {"name": "binary"} and fields["corruption"] == {"name": "flip", "p": 0.25}
    assert sweep_fingerprint(make_cfg("models=[modern,classical]", "families.dense.n=7"), None) == fields


# --- capacities against theory ------------------------------------------------------------------------


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_classical_capacity_near_0138d(tmp_path):
    """0.138 d = 8.8 at d = 64 is the small-noise capacity (a few % wrong bits), so the queries here flip 10%
    of the bits (the default 25% gives 5, still within the factor 2); success criterion: the default."""
    capacity = sweep(tmp_path, "models=[classical]", "dim=64", "corruption.p=0.1")
    r = row(capacity, "classical")
    assert 0.138 * 64 / 2 <= r.capacity <= 0.138 * 64 * 2
    assert r.theory_amit_0138d == pytest.approx(8.832)
    assert r.theory_mceliece_d_2logd == pytest.approx(64 / (2 * math.log(64)))


def test_modern_capacity_grows_exponentially_in_d(tmp_path):
    capacity = sweep(
        tmp_path,
        "models=[modern]",
        "dims=[8,12,16,20]",
        "patterns=sphere",
        "corruption=noise",
        "corruption.sigma=1.0",
        "trials=3",
        "refine_steps=4",
    )
    capacity = capacity.sort_values("dim")
    assert capacity.capacity.is_monotonic_increasing
    assert (capacity.fit_log_slope > 0.1).all() and (capacity.fit_r2 > 0.95).all()
    assert capacity.thm3_condition.notna().all()
    assert capacity.thm3_k.tolist() == pytest.approx([1.0] * 4, rel=1e-4)
    assert capacity.theory_note.str.contains("on the sphere, as here").all()


def test_memory_file_prefixes(tmp_path):
    from hopfield_cli.data.memory_file import save_memory

    patterns = torch.randint(0, 2, (300, 24), generator=torch.Generator().manual_seed(3)).float() * 2 - 1
    memory = save_memory(tmp_path / "m.safetensors", patterns, {"source": "binary"})
    out = tmp_path / "run"
    capacity = sweep(out, f"memory={memory}", "models=[modern,classical]", "trials=2", "refine_steps=2")
    results = pd.read_parquet(out / "results.parquet")
    assert set(capacity.dim) == {24} and results.num_patterns.max() <= 300
    assert json.loads((out / "sweep.json").read_text())["memory_checksum"]
    with pytest.raises(UsageError, match="dims"):
        sweep(tmp_path / "other", f"memory={memory}", "dims=[16]")


def test_binary_model_refuses_real_patterns_before_any_work(tmp_path):
    with pytest.raises(UsageError) as error:
        sweep(tmp_path, "models=[classical]", "patterns=sphere", "dim=16")
    assert error.value.field == "patterns"
    assert not (tmp_path / "cells.jsonl").exists()


def test_binarise_lets_the_binary_families_take_real_patterns(tmp_path):
    capacity = sweep(
        tmp_path, "models=[classical]", "patterns=gaussian", "binarise=true", "dim=16", "trials=2"
    )
    assert row(capacity, "classical").capacity >= 1


# --- nothing lost ---------------------------------------------------------------------------------------

SMALL = ("models=[modern,classical]", "dims=[16,24]", "trials=3", "refine_steps=3", "growth=4")


def comparable(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    results = pd.read_parquet(run_dir / "results.parquet").drop(columns=TIMING)
    capacity = pd.read_csv(run_dir / "capacity.csv")
    return results, capacity


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_killed_and_resumed_sweep_gives_the_same_table(tmp_path):
    whole = tmp_path / "whole"
    sweep(whole, *SMALL)
    lines = (whole / "cells.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) > 8
    killed = tmp_path / "killed"
    killed.mkdir()
    shutil.copy(whole / "sweep.json", killed / "sweep.json")
    k = 5
    (killed / "cells.jsonl").write_text("".join(lines[:k]) + lines[k][: len(lines[k]) // 2])  # torn last line

    sweep(tmp_path / "hydra_folder_unused", *SMALL, f"resume={killed}")
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["cells_resumed"] == k and summary["cells_computed"] == len(lines) - k
    for a, b in zip(comparable(whole), comparable(killed), strict=True):
        pd.testing.assert_frame_equal(a, b)

    sweep(killed, *SMALL)  # re-running into the same folder: everything is already there
    assert json.loads((killed / "summary.json").read_text())["cells_computed"] == 0


def test_an_unused_family_setting_does_not_block_a_resume(tmp_path):
    first = ("models=[modern,classical]", "dim=16", "trials=2", "refine_steps=2")
    sweep(tmp_path / "a", *first)
    sweep(tmp_path / "b", *first, "families.dense.n=5", f"resume={tmp_path / 'a'}")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["cells_computed"] == 0 and summary["cells_resumed"] > 0
    with pytest.raises(UsageError, match="families.classical") as error:  # a family in use: refused
        sweep(tmp_path / "c", *first, "families.classical.update_rule=sync", f"resume={tmp_path / 'a'}")
    assert error.value.field == "resume"


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_resume_into_a_different_sweep_is_refused(tmp_path, run_cli):
    args = ["capacity-sweep", "models=[classical]", "dim=16", "trials=2", "plots=false"]
    first = run_cli(*args, "hydra.run.dir=a")
    assert first.returncode == 0, first.stderr
    again = run_cli(*args, "seed=1", "hydra.run.dir=a")
    assert again.returncode == 2 and again.stderr.startswith("error: resume:") and "seed" in again.stderr
    resumed = run_cli(*args, "trials=3", f"resume={tmp_path / 'a'}", "hydra.run.dir=b")
    assert resumed.returncode == 2 and "trials" in resumed.stderr
    missing = run_cli(*args, f"resume={tmp_path / 'nowhere'}", "hydra.run.dir=c")
    assert missing.returncode == 2 and missing.stderr.startswith("error: resume:")
    assert len(again.stderr.strip().splitlines()) == 1


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_default_run_modern_far_above_classical(tmp_path, run_cli):
    """The README's example: `hopfield capacity-sweep dim=64 beta=8`, every output in the run folder."""
    done = run_cli("capacity-sweep", "dim=64", "beta=8", "hydra.run.dir=run")
    assert done.returncode == 0, done.stderr
    run = tmp_path / "run"
    for name in (
        "results.parquet",
        "results.csv",
        "capacity.csv",
        "capacity.parquet",
        "cells.jsonl",
        "sweep.json",
        "run_info.json",
        "summary.json",
        "success_vs_n.png",
    ):
        assert (run / name).is_file(), name
    assert not (run / "capacity_vs_dim.png").exists()  # one d: no capacity-vs-d plot (issue 14)
    capacity = pd.read_csv(run / "capacity.csv")
    modern, classical = row(capacity, "modern"), row(capacity, "classical")
    assert modern.capacity >= 100 * classical.capacity and classical.capacity >= 1
    results = pd.read_csv(run / "results.csv")
    rates = results[results.model == "modern"].groupby("num_patterns").success_rate.mean()
    assert rates.max() >= 0.95 and rates.min() <= 0.2  # a real crossing inside the tested range
    assert "modern" in done.stdout and "classical" in done.stdout
