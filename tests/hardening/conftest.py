"""Helpers for the hardening suite: run a subcommand in this process and check how it ended.

In-process runs go through the real Typer app and ``cli.run_hydra`` (the path the console script takes), only
without the ~3 s of imports per subprocess. ``SMALL`` holds overrides that keep a run that passes validation tiny.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import Ran
from tests.conftest import invoke as run_in_process

COMMANDS = ("store", "retrieve", "capacity-sweep", "metastable-scan")

SMALL = {
    "store": ["num_patterns=8", "dim=8"],
    "retrieve": ["num_patterns=8", "dim=8", "num_queries=4", "update_steps_max=5"],
    "capacity-sweep": [
        "dims=[8]",
        "n_start=2",
        "n_max=8",
        "growth=2",
        "trials=1",
        "num_queries=4",
        "refine_steps=1",
        "update_steps_max=5",
        "plots=false",
    ],
    "attention-heads": [],
    "metastable-scan": [
        "num_patterns=8",
        "dim=8",
        "clusters=2",
        "num_queries=4",
        "num_betas=3",
        "update_steps_max=20",
        "plots=false",
    ],
}

# Wall-time columns differ between identical runs, and patterns_drawn counts the work this process did (a
# resumed capacity sweep redraws the blocks the whole run had cached); everything else must match.
TIMING = ("seconds", "wall_seconds", "time_utc", "patterns_drawn")


def invoke(command: str, *args: str, run_dir: Path | None = None) -> Ran:
    """Run ``hopfield COMMAND ARGS`` in this process, in ``run_dir`` when given."""
    extra = [f"hydra.run.dir={run_dir}"] if run_dir is not None else []
    return run_in_process(command, *args, *extra)


def assert_ok(result) -> None:
    assert result.returncode == 0, (
        result.returncode,
        result.stdout[-2000:],
        result.stderr[-2000:],
        result.exception,
    )
    assert "Traceback" not in result.stderr + result.stdout


def tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Every Parquet table in ``folder``, each also read back from its CSV twin (both must parse)."""
    out = {}
    for parquet in sorted(folder.glob("*.parquet")):
        frame = pd.read_parquet(parquet)
        pd.read_csv(parquet.with_suffix(".csv"))
        out[parquet.stem] = frame
    return out


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table without timing columns, rows in a canonical order."""
    frame = frame.drop(columns=[c for c in frame.columns if c in TIMING])
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def assert_finite_tables(folder: Path) -> None:
    """No NaN/inf in any numeric result column (beta is NaN by design for families without beta)."""
    found = tables(folder)
    assert found, f"no tables in {folder}"
    for stem, frame in found.items():
        for column in frame.select_dtypes("number").columns:
            values = frame[column]
            if column == "beta" and stem in ("results", "capacity"):
                values = values.dropna()
            if stem == "capacity" and column.startswith(("theory", "thm3", "fit")):
                continue  # theory columns are NaN where a bound does not apply
            bad = values[~values.map(lambda v: math.isfinite(float(v)))]
            assert bad.empty, f"{stem}.{column} has non-finite values: {bad.tolist()[:5]}"


@pytest.fixture
def run_dir(tmp_path) -> Path:
    return tmp_path / "run"
