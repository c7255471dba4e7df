"""Progress of a long retrieve (issue 25, item 4): queries scored in blocks give the rows of one call, the bar
advances by queries, and a log without a terminal hears a heartbeat with an ETA from the work done."""

from __future__ import annotations

import logging
import threading

import pandas as pd
import pytest
import torch

from hopfield_cli.experiments import query_blocks
from hopfield_cli.experiments.query_blocks import block_sizes
from hopfield_cli.report import console
from tests.conftest import compose


def test_block_sizes_cover_the_queries_and_grow():
    assert block_sizes(1000, 64, 1000) == [1000]  # a small run is one call, as before
    sizes = block_sizes(100_000, 64, 10_000)
    assert sum(sizes) == 10_000 and sizes[0] < sizes[1] < sizes[2]
    assert max(sizes[:-1]) * 100_000 * 64 <= query_blocks.BLOCK_WORK_MAX  # the last takes the rest
    assert block_sizes(10**6, 10**4, 3) == [1, 1, 1]


def _retrieve(tmp_path, name, *overrides):
    from hopfield_cli.experiments import retrieve

    cfg = compose("retrieve", "num_patterns=40", "dim=16", "num_queries=30", "dtype=float64", *overrides)
    out = tmp_path / name
    out.mkdir()
    return retrieve.run(cfg, out)


def test_blocks_give_the_rows_of_one_call(tmp_path, monkeypatch, capsys):
    slow = ("beta=0.5", "update_steps_max=6")  # queries differ in steps and energies, some unconverged
    whole = _retrieve(tmp_path, "whole", *slow)
    monkeypatch.setattr(
        query_blocks, "BLOCK_WORK_FIRST", 40 * 16 * 4
    )  # blocks of 4, 8, then the last 18 queries
    monkeypatch.setattr(query_blocks, "BLOCK_WORK_MAX", 40 * 16 * 16)
    assert block_sizes(40, 16, 30) == [4, 8, 18]
    blocked = _retrieve(tmp_path, "blocked", *slow)
    pd.testing.assert_frame_equal(whole, blocked, check_exact=False, rtol=1e-12)
    err = capsys.readouterr().err
    assert "retrieve: 30/30 queries in " in err
    classical = ("model=classical", "model.update_rule=async", "num_patterns=40")
    monkeypatch.setattr(query_blocks, "BLOCK_WORK_FIRST", 10**12)
    one = _retrieve(tmp_path, "c_whole", *classical)
    monkeypatch.setattr(query_blocks, "BLOCK_WORK_FIRST", 40 * 16 * 4)
    pd.testing.assert_frame_equal(one, _retrieve(tmp_path, "c_blocked", *classical))


class _Lines(logging.Handler):
    """Collects the output log's lines and wakes the test at the first heartbeat."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self.beat = threading.Event()

    def emit(self, record):
        line = record.getMessage()
        self.lines.append(line)
        if ", ETA " in line:
            self.beat.set()


def test_heartbeat_without_a_terminal_names_work_done_and_eta(monkeypatch, capsys):
    monkeypatch.setattr(console, "HEARTBEAT_SECONDS", 0.001)
    lines = _Lines()
    console.output_log.addHandler(lines)
    console.output_log.setLevel(logging.INFO)
    try:
        with console.cell_progress("retrieve", 10_000, unit="queries") as bar:
            bar.begin("queries 1-2,500")
            bar.advance(2500)
            bar.begin("queries 2,501-10,000")
            assert lines.beat.wait(60), "no heartbeat line was written"
    finally:
        console.output_log.removeHandler(lines)
    beat = next(line for line in lines.lines if ", ETA " in line)
    assert beat.startswith("retrieve: 2,500/10,000 queries (25%), ")
    assert beat.endswith("; now queries 2,501-10,000")
    assert beat in capsys.readouterr().err  # no terminal: the heartbeat goes to stderr as well as the log
    assert lines.lines[-1].startswith("retrieve: 2,500/10,000 queries in ")


def test_eta_follows_work_not_cell_count():
    cells = console.Cells("sweep", 4, None, work=100.0, heartbeat=3600)
    try:
        assert cells.eta() is None
        cells.started -= 10.0  # as if the first cell, a quarter of the work, took 10 s
        cells.advance(1, work=25.0)
        assert cells.eta() == pytest.approx(30.0, abs=0.5)  # 75 units at 2.5 units a second
        cells.started -= 20.0  # a long cell in flight for 20 s: the ETA counts down, never freezes
        cells.last_advance -= 20.0
        assert cells.eta() == pytest.approx(10.0, abs=0.5)
        assert cells.count() == "1/4 cells" and cells.percent() == " (25%)"
    finally:
        cells.finish()
    bounded = console.Cells("capacity-sweep", 24, None, at_most=True, heartbeat=3600)
    bounded.finish()
    assert bounded.count() == "0/<=24 cells"


def test_block_results_keep_device_and_shapes():
    parts = []
    for steps in (2, 4):
        from hopfield_cli.core.base import RetrievalResult
        from hopfield_cli.experiments.scoring import Scored

        result = RetrievalResult(
            states=torch.zeros(2, 3),
            steps=torch.full((2,), steps),
            energies=torch.arange(steps + 1.0).expand(2, -1),
            converged=torch.ones(2, dtype=torch.bool),
            k90_cap=7 if steps == 4 else None,
        )
        parts.append(Scored(result, torch.zeros(2, 3), torch.zeros(2), torch.zeros(2), None))
    merged = query_blocks.concat_scored(parts)
    assert merged.result.energies.shape == (4, 5)
    assert merged.result.energies[0].tolist() == [0, 1, 2, 2, 2]  # a converged energy repeats to the right
    assert merged.result.k90_cap == 7 and merged.result.max_weight is None and merged.target_ids is None


def test_store_separation_in_blocks_is_the_whole(monkeypatch, capsys):
    from hopfield_cli.core import theory
    from hopfield_cli.experiments import memory_stats

    x = torch.randn(50, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    whole = theory.separation(x)
    monkeypatch.setattr(memory_stats, "PROGRESS_WORK", 0)
    monkeypatch.setattr(memory_stats, "BLOCK_WORK", 50 * 8 * 7)  # blocks of 7 rows
    blocked = memory_stats.separation_with_progress(x, None)
    torch.testing.assert_close(blocked, whole, rtol=1e-12, atol=1e-12)  # the same Gram entries, other blocks
    some = memory_stats.separation_with_progress(x, torch.tensor([3, 1]))
    torch.testing.assert_close(some, whole[[3, 1]], rtol=1e-12, atol=1e-12)
    assert "separation: 50/50 rows in " in capsys.readouterr().err
