""" "dense's memory estimate says 0 MiB for a run that uses 673 MiB".

Two kinds. (1) ``-m ... estimate=true`` printed no estimate at all: the sweep ignored estimate=true and ran
every job, with no memory check (a dense sweep at N = 40,000, d = 8, 1,000 queries peaked at 681 MiB RSS, 337
MiB above the interpreter). It now prints each job's estimate and runs nothing. (2) The estimate of the dense
family against the arrays its retrieval must hold, computed exactly from the code (``core.dense``,
``core.classical.async_sweeps``): the float64 pattern copy (N x d), the (B, N) float64 overlaps, the float64
queries and states (B x d) and the float32 patterns. The estimate must cover them and stay within a factor of 4
(plus the fixed blocks of the duplicate check and nearest-pattern search) for big N with small d, small N with
big d and float64. Measured (ru_maxrss minus a tiny run, tests/hardening/test_footprint.py's method): N=40,000
d=8 B=1,000: 337 MiB used, 907 MiB estimated; N=200,000 d=16 B=200: 465 / 970; N=1,000 d=2,000 B=1,000: 89 /
375; float64 N=40,000 d=8: 410 / 907.
"""

from __future__ import annotations

import pytest

from hopfield_cli.app.commands import COMMANDS
from tests.conftest import assert_one_clean_line, compose
from tests.conftest import invoke as hopfield

MIB = 1 << 20
FACTOR = 4
FIXED = 256 * MIB  # duplicate check and nearest-pattern blocks: the same at every size


def held_by_dense(n: int, d: int, b: int, elem: int) -> int:
    """Bytes dense's retrieval holds at once, from the code: patterns in the run's dtype, their float64 copy,
    float64 queries, states and the (B, N) float64 overlaps."""
    return n * d * elem + n * d * 8 + 2 * b * d * 8 + b * n * 8


@pytest.mark.parametrize(
    "n, d, b, dtype",
    [
        (40_000, 8, 1_000, "float32"),  # big N, small d: the overlaps dominate
        (200_000, 16, 200, "float32"),
        (1_000, 2_000, 1_000, "float32"),  # small N, big d: queries and states dominate
        (40_000, 8, 1_000, "float64"),
        (5_000_000, 4, 10, "float32"),  # a huge N with few queries: the pattern copies dominate
    ],
)
def test_dense_estimate_covers_its_arrays_within_a_factor(n, d, b, dtype):
    cfg = compose(
        "retrieve",
        "model=dense",
        f"num_patterns={n}",
        f"dim={d}",
        f"num_queries={b}",
        f"dtype={dtype}",
        "update_steps_max=1",
    )
    estimate = sum(t.bytes for t in COMMANDS["retrieve"].footprint(cfg))
    exact = held_by_dense(n, d, b, 8 if dtype == "float64" else 4)
    assert exact <= estimate <= FACTOR * exact + FIXED, (estimate / MIB, exact / MIB)


def test_a_sweep_with_estimate_prints_each_job_and_runs_none(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = hopfield(
        "retrieve",
        "-m",
        "model=dense",
        "num_patterns=40000,200",
        "dim=8",
        "num_queries=1000",
        "update_steps_max=1",
        "estimate=true",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "job 0: num_patterns=40000" in out and "job 1: num_patterns=200" in out, out
    assert out.count("memory: about ") == 2 and "float64 overlaps (dense)" in out, out
    assert "no job was run" in out
    assert list(tmp_path.iterdir()) == []  # no multirun/ folder: nothing ran


def test_a_sweep_with_estimate_still_refuses_a_bad_job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = hopfield(
        "retrieve", "-m", "model=dense", "model.n=0,3", "num_patterns=8", "dim=8", "estimate=true"
    )
    assert_one_clean_line(result, "model.n")
    assert list(tmp_path.iterdir()) == []
