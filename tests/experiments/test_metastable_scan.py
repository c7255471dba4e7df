"""`hopfield metastable-scan`: fixed-point kinds across beta (Lemma A3, Lemma A12), resume and interruption."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from hopfield_cli.experiments.beta_scales import beta_scales
from hopfield_cli.experiments.metastable_scan import scan as ms
from hopfield_cli.experiments.scan_patterns import load_scan_patterns
from tests.conftest import compose as compose_config
from tests.conftest import invoke

REPO = Path(__file__).resolve().parents[2]


def compose(*overrides: str):
    """The typed metastable-scan config as the CLI composes it, on the CPU."""
    return compose_config("metastable_scan", "device=cpu", *overrides)


def hopfield(*args: str):
    """`hopfield ARGS` in this process."""
    return invoke(*args)


def setup(cfg):
    generator = torch.Generator().manual_seed(cfg.seed)
    data = load_scan_patterns(cfg, generator)
    queries, targets = ms.make_queries(cfg, data, generator)
    return data, queries, targets, beta_scales(data)


def scan(cfg, beta, data, queries, targets) -> pd.DataFrame:
    return pd.DataFrame(
        ms.scan_beta(beta, data, queries, targets, cfg, torch.device("cpu"), torch.float64, 1 << 26)
    )


# ------------------------------------------------------------------------------------------ the beta scan


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_default_run_goes_global_metastable_single(tmp_path):
    out = tmp_path / "run"
    proc = hopfield("metastable-scan", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    per_beta = pd.read_parquet(out / "betas.parquet")
    assert per_beta["beta"].is_monotonic_increasing and len(per_beta) == 24
    dominant = per_beta["dominant_kind"].tolist()
    assert dominant[0] == "global" and dominant[-1] == "single"
    assert "metastable" in dominant[1:-1]
    # The order is global -> metastable -> single, each once.
    assert [k for i, k in enumerate(dominant) if i == 0 or k != dominant[i - 1]] == [
        "global",
        "metastable",
        "single",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert [(c["from"], c["to"]) for c in summary["dominant_changes"]] == [
        ("global", "metastable"),
        ("metastable", "single"),
    ]
    # Global averaging lasts at least up to Lemma A3's sufficient bound 1/m_max^2.
    assert summary["dominant_changes"][0]["beta"] > summary["scales"]["beta_global"]
    for name in (
        "fixed_points.parquet",
        "fixed_points.csv",
        "betas.csv",
        "kind_fractions.png",
        "k90_vs_beta.png",
        "run_info.json",
        "sweep.json",
        "cells.jsonl",
        ".hydra/config.yaml",
    ):
        assert (out / name).is_file(), name
    queries = pd.read_parquet(out / "fixed_points.parquet")
    assert len(queries) == 24 * 128
    assert {
        "k90",
        "kind",
        "max_weight",
        "dist_nearest",
        "dist_mean",
        "dist_cluster_mean",
        "energy",
        "steps",
    } <= set(queries)
    assert "metastable" in proc.stdout and "1 / m_max^2" in proc.stdout
    assert json.loads((out / "run_info.json").read_text())["command"] == "metastable-scan"


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_default_run_keeps_the_numbers_of_before_the_refactor(tmp_path):
    """The per-beta table of `hopfield metastable-scan` (defaults), as the code before issue 10 gave it."""
    per_beta = ms.run(compose("plots=false"), tmp_path)
    assert per_beta["median_k90"].tolist() == [58] * 8 + [
        57,
        57,
        8,
        8,
        8,
        7.5,
        7,
        7,
        7,
        6,
        5,
        3.5,
        2.5,
        1,
        1,
        1,
    ]
    assert per_beta["frac_single"].tolist() == [0.0] * 20 + [0.375, 0.75, 0.875, 1.0]
    assert per_beta["frac_metastable"].tolist() == [0.0] * 10 + [1.0] * 10 + [0.625, 0.25, 0.125, 0.0]
    # issue 27: a float64 scan (the default) keeps its clustered patterns and queries in float64 instead of
    # rounding them to float32: the kinds above are unchanged, the scales move by ~4e-8 (was 0.0012243391994778965,
    # 9.536282539794401), mean energy by 1.5e-8 (38.169830194988236) and the mean steps from 43.0546875
    assert per_beta["beta"].iloc[0] == pytest.approx(0.0012243391997854966, rel=1e-12)
    assert per_beta["beta"].iloc[-1] == pytest.approx(9.536282908518471, rel=1e-12)
    assert per_beta["mean_energy"].iloc[10] == pytest.approx(38.16982963745618, rel=1e-6)
    assert per_beta["mean_steps"].iloc[10] == 43.21875


def test_below_global_bound_every_query_reaches_the_global_fixed_point():
    cfg = compose("clusters=0", "num_queries=64", "queries=random", "seed=3")
    data, queries, targets, scales = setup(cfg)
    assert (targets == -1).all()  # random points have no target
    n = data.patterns.shape[0]
    for product in (0.1, 0.5, 0.9):  # beta * m_max^2 < 1 (Lemma A3)
        rows = scan(cfg, product * scales.beta_global, data, queries, targets)
        assert (rows["kind"] == "global").all()
        assert rows["k90"].min() >= 0.85 * n
        # One fixed point for all queries, near the mean m_x.
        assert rows["dist_mean"].max() - rows["dist_mean"].min() < 1e-4
        assert rows["dist_mean"].max() < 0.1 * scales.m_max
        assert rows["converged"].all()


def test_clusters_give_metastable_states_the_size_of_a_cluster():
    cfg = compose("clusters=8", "num_patterns=64", "cluster_spread=0.05", "num_queries=64", "seed=1")
    data, queries, targets, scales = setup(cfg)
    size = 64 // 8
    assert scales.beta_cluster_separated < scales.beta_cluster_internal
    beta = math.sqrt(scales.beta_cluster_separated * scales.beta_cluster_internal)
    rows = scan(cfg, beta, data, queries, targets)
    assert (rows["kind"] == "metastable").all()
    assert (rows["cluster_mass"] > 0.99).all()  # the support lies in one cluster ...
    assert rows["k90"].between(math.ceil(0.9 * size) - 1, size).all()  # ... and covers (90% of) it
    assert rows["k90"].median() >= math.ceil(0.9 * size) - 1
    assert (rows["cluster_id"] == rows["target_cluster"]).mean() > 0.9
    spread = 0.05 * float(data.centres.norm(dim=1).min())
    assert (rows["dist_cluster_mean"] < 0.5 * spread).all()  # near the cluster mean (Lemma A12)


def test_corrupted_queries_target_every_pattern_once_before_any_twice():
    cfg = compose("clusters=0", "num_patterns=16", "num_queries=40", "corruption=none")
    data, queries, targets, _ = setup(cfg)
    for start in (0, 16):
        assert sorted(targets[start : start + 16].tolist()) == list(range(16))
    assert torch.equal(queries, data.patterns[targets])  # corruption=none: the patterns themselves


def test_footprint_names_the_field_of_the_largest_array(tmp_path):
    from hopfield_cli.data.memory_file import save_memory

    terms = ms.footprint(compose("num_patterns=1000000", "dim=64", "memory_budget=64MiB"))
    assert max(terms, key=lambda t: t.bytes).field == "num_patterns"
    terms = ms.footprint(compose("num_queries=10000000", "num_betas=100"))
    assert max(terms, key=lambda t: t.bytes).field == "num_queries"
    save_memory(tmp_path / "m.safetensors", torch.ones(1000, 512), {})
    terms = ms.footprint(compose(f"memory={tmp_path / 'm.safetensors'}"))  # N x d from the file's header
    assert any(t.bytes == 128 * 24 * ms.SCAN_ROW_BYTES for t in terms)
    assert any(t.field == "memory" and t.what.startswith("1,000 x 512 patterns") for t in terms)


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_resume_after_truncating_cells_gives_the_same_table(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    cfg = compose("num_betas=6", "num_queries=32")
    ms.run(cfg, first)
    reference = pd.read_csv(first / "betas.csv")
    lines = (first / "cells.jsonl").read_text().splitlines(keepends=True)
    (first / "cells.jsonl").write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # kill mid-append
    proc = hopfield(
        "metastable-scan", "num_betas=6", "num_queries=32", f"resume={first}", f"hydra.run.dir={second}"
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 of 6 betas already done" in proc.stdout + proc.stderr
    pd.testing.assert_frame_equal(pd.read_csv(first / "betas.csv"), reference)
    assert len(pd.read_parquet(first / "fixed_points.parquet")) == 6 * 32
    # A different sweep is refused in that folder.
    proc = hopfield(
        "metastable-scan", "num_betas=6", "num_queries=16", f"resume={first}", f"hydra.run.dir={second}"
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: resume:") and "different sweep" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_fingerprint_holds_the_result_fields_only(tmp_path):
    ms.run(compose("num_betas=2", "num_queries=8", "plots=false", "memory_budget=64MiB"), tmp_path)
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert set(saved) == {*ms.RESULT_FIELDS, "command", "betas", "memory_checksum"}
    assert saved["patterns"] == {"name": "gaussian"} and saved["corruption"] == {
        "name": "noise",
        "sigma": 0.5,
    }
    assert len(saved["betas"]) == 2 and saved["memory_checksum"] is None


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_sigterm_keeps_the_finished_betas_and_says_how_to_resume(tmp_path):
    """A real kill: SIGTERM once cells.jsonl holds a finished beta, in a scan far too long to end first."""
    folder = tmp_path / "killed"
    args = ["num_betas=2000", "num_queries=16", "num_patterns=64", "plots=false", "device=cpu"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hopfield_cli", "metastable-scan", *args, f"hydra.run.dir={folder}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cells = folder / "cells.jsonl"
    try:
        deadline = time.monotonic() + 120
        while b"\n" not in (cells.read_bytes() if cells.exists() else b""):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no beta finished within 120 s"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stdout + stderr
    lines = [ln for ln in stderr.splitlines() if ln.startswith(("error", "interrupted"))]
    assert len(lines) == 1, stderr
    logged = [json.loads(line) for line in cells.read_text().splitlines()]
    assert 1 <= len(logged) < 2000
    assert lines[0].startswith(f"interrupted: {len(logged)} cell") and f"resume={folder}" in lines[0]
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]
    assert json.loads((folder / "sweep.json").read_text())["command"] == "metastable-scan"
    table = folder / "fixed_points.parquet"  # rewritten after each append: it may lag one beta behind
    assert not table.exists() or len(pd.read_parquet(table)) <= 16 * len(logged)
