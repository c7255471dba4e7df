"""SIGINT and SIGTERM in the middle of capacity-sweep and metastable-scan.

The run stops with 130 (SIGINT) or 143 (SIGTERM) and one line saying how many cells were kept and how to resume,
no traceback; every finished cell is in cells.jsonl, every file left parses, no temporary file is left, and the
resumed run ends with the table of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pandas as pd
import pytest

from tests.conftest import default_sigint, hopfield_command

from .conftest import assert_ok, comparable, invoke, tables

SWEEPS = {
    "capacity-sweep": (
        [
            "models=[modern,classical]",
            "dims=[64]",
            "trials=3",
            "num_queries=256",
            "refine_steps=2",
            "n_max=100000",
            "plots=false",
        ],
        "results",
    ),
    "metastable-scan": (
        ["num_betas=6", "num_patterns=2048", "dim=128", "num_queries=1024", "plots=false"],
        "fixed_points",
    ),
}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The table of each sweep run whole, computed once per test process and only for the sweeps it needs."""
    out = {}

    def table(command: str) -> pd.DataFrame:
        if command not in out:
            args, stem = SWEEPS[command]
            folder = tmp_path_factory.mktemp(command) / "whole"
            assert_ok(invoke(command, *args, run_dir=folder))
            out[command] = comparable(pd.read_parquet(folder / f"{stem}.parquet"))
        return out[command]

    return table


def _start_and_interrupt(command, args, folder, signum):
    env = dict(os.environ, COLUMNS="200")
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.Popen(
        [*hopfield_command(), command, *args, f"hydra.run.dir={folder}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=default_sigint,
    )
    cells = folder / "cells.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if cells.exists() and cells.read_bytes().count(b"\n") >= 1:
            break
        time.sleep(0.01)
    assert proc.poll() is None, ("the sweep ended before a cell was seen: make it longer", proc.communicate())
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr


# A whole session each (a sweep run whole, one interrupted in a real process, its resume), like the SIGKILL
# loop: make test-e2e runs them (CI too), make test does not.
@pytest.mark.e2e
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("command", list(SWEEPS))
def test_interrupt_keeps_cells_and_resume_matches(tmp_path, uninterrupted, command, signum):
    args, stem = SWEEPS[command]
    folder = tmp_path / "killed"
    code, stdout, stderr = _start_and_interrupt(command, args, folder, signum)
    assert code == 128 + signum, (code, stderr)
    assert "Traceback" not in stderr + stdout
    lines = [ln for ln in stderr.splitlines() if ln.startswith(("error", "interrupted"))]
    assert len(lines) == 1 and lines[0].startswith("interrupted: "), stderr
    assert f"resume={folder}" in lines[0]
    logged = [json.loads(line) for line in (folder / "cells.jsonl").read_text().splitlines()]
    assert f"interrupted: {len(logged)} cell" in lines[0]
    assert 1 <= len(logged)
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")], "a temporary file was left"
    for path in folder.glob("*.json"):
        json.loads(path.read_text())
    kept = tables(folder)  # every table left behind parses; it holds finished cells only
    if stem in kept:
        logged_rows = sum(len(r["rows"]) for r in logged)
        assert len(kept[stem]) <= logged_rows

    result = invoke(command, *args, f"resume={folder}", run_dir=tmp_path / "elsewhere")
    assert_ok(result)
    if command == "capacity-sweep":  # every kept cell was reused, none recomputed
        assert json.loads((folder / "summary.json").read_text())["cells_resumed"] == len(logged)
    resumed = comparable(pd.read_parquet(folder / f"{stem}.parquet"))
    pd.testing.assert_frame_equal(resumed, uninterrupted(command))
