"""Sharded passes (shards=K): K tasks' partials folded in order equal one process's pass, bit for bit in float64."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from hopfield_cli.core import streaming
from hopfield_cli.core.modern import ModernHopfield, reference_update
from hopfield_cli.experiments.capacity_sweep import shards
from hopfield_cli.experiments.capacity_sweep.bank import BLOCK_ROWS, PatternBank
from tests.app.test_slurm import cluster, queue  # noqa: F401, F811 (the local cluster's fixtures)

D, N, BETA = 10, 3 * BLOCK_ROWS + 3, 0.7


class InProcess(shards.Runner):
    """The tasks run one after another in this process (what local/slurm tasks each do in their own)."""

    def run(self, folder: Path, count: int) -> None:
        for i in range(count):
            shards.run_task(folder, i)


class Keep(InProcess):
    """The tasks' files, read before the driver folds and removes them."""

    def run(self, folder: Path, count: int) -> None:
        super().run(folder, count)
        self.files = [torch.load(folder / f"part-{i}.pt", weights_only=False) for i in range(count)]


def _cfg():
    return OmegaConf.create(
        {
            "patterns": {"name": "binary"},
            "seed": 5,
            "n_max": 10**9,
            "normalise": "none",
            "binarise": False,
            "dtype": "float64",
            "models": ["modern"],
            "memory": None,
            "search": "auto",
        }
    )


def _spec():
    spec = shards.source_spec(_cfg(), D, 1, N, torch.float64)
    return {**spec, "unit_rows": BLOCK_ROWS}  # four units of one block: every task gets some


def _queries(x, b=4):
    q = x[torch.arange(b) * 997].clone()
    q[:, :3] *= -1
    return q


def test_sharded_pass_equals_the_single_pass_bit_for_bit(tmp_path):
    spec = _spec()
    x = shards.source(spec)
    assert x.dtype == torch.float64 and torch.equal(x[0:N], PatternBank(_cfg(), D, None).prefix(1, N))
    q = _queries(x)
    units = shards.unit_ranges(N, 1, BLOCK_ROWS)[0]
    single = streaming.fold(shards.unit_partials(x, q, BETA, *units, unit=BLOCK_ROWS))
    for count in (2, 4):
        folder = tmp_path / f"k{count}"
        keep = Keep()
        out = shards.sharded_pass(spec, q, BETA, count, keep, folder)
        files = keep.files
        merged = streaming.fold(p for part in files for p in part)
        assert len(files) == count and not list(folder.glob("part-*"))
        assert torch.equal(merged.m, single.m) and torch.equal(merged.s, single.s)
        assert torch.equal(merged.o, single.o)
        want = streaming.finish(single, BETA, N, torch.float64)
        assert torch.equal(out.states, want.states) and torch.equal(out.lse_centered, want.lse_centered)
    assert torch.allclose(out.states, reference_update(x[0:N], q, BETA), atol=1e-12)


def test_units_depend_on_n_alone():
    assert shards.unit_rows(10) == shards.UNIT_ROWS
    big = shards.unit_rows(10**9)
    assert big % shards.UNIT_ROWS == 0 and -(-(10**9) // big) <= shards.MAX_UNITS
    ranges = shards.unit_ranges(10**9, 7, big)
    assert ranges[0][0] == 0 and ranges[-1][1] == -(-(10**9) // big)
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:], strict=False))


def test_sharded_retrieval_is_the_model_s(tmp_path):
    """The update loop with its passes sent to 3 tasks: the same steps and states (to 1e-12) as one process."""
    spec = _spec()
    x = shards.source(spec)
    q = _queries(x)
    sharded = shards.ShardedModern(BETA, spec=spec, count=3, runner=InProcess(), folder=tmp_path)
    one = shards.ShardedModern(BETA, spec=spec, count=1, runner=InProcess(), folder=tmp_path / "one")
    a = sharded.retrieve(x, q, update_steps_max=4, eps=1e-9, stats=False)
    b = one.retrieve(x, q, update_steps_max=4, eps=1e-9, stats=False)
    c = ModernHopfield(BETA).retrieve(x, q, update_steps_max=4, eps=1e-9, stats=False)
    assert torch.equal(a.states, b.states) and torch.equal(a.steps, b.steps)
    assert torch.equal(a.steps, c.steps) and torch.allclose(a.states, c.states, atol=1e-12)


# --------------------------------------------------------------------- one cell from the command line

CELL = ["dims=[16]", "models=[modern]", "trials=1", "num_queries=8", "n_start=64", "n_max=64"]
CELL += ["refine_steps=0", "plots=false", "corruption.p=0.25"]


def _results(folder: Path):
    import pandas as pd

    (run,) = list(folder.glob("outputs/*/*"))
    return pd.read_csv(run / "results.csv").drop(columns=["seconds"])


@pytest.mark.e2e  # a process per task and pass: minutes on a busy machine
def test_a_cell_split_over_local_processes_equals_one_task(run_cli, tmp_path):
    """shards=3 (three processes a pass) gives the table of shards=2 (the same units folded), and the success
    rate of the unsharded cell."""
    import pandas as pd

    tables = {}
    for k in ("1", "2", "3"):
        proc = run_cli("capacity-sweep", *CELL, f"shards={k}", cwd=_dir(tmp_path / k))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        tables[k] = _results(tmp_path / k)
    pd.testing.assert_frame_equal(tables["2"], tables["3"])
    assert tables["1"]["success_rate"].tolist() == tables["2"]["success_rate"].tolist()


@pytest.mark.slurm
def test_a_frontier_cell_runs_as_a_slurm_array(run_cli, tmp_path, queue):  # noqa: F811
    """The cell's update passes as job arrays of 2 tasks on the local cluster: the local processes' table."""
    import pandas as pd

    slurm = run_cli(
        "capacity-sweep",
        *CELL,
        "shards=2",
        "shard_runner=slurm",
        "shard_partition=debug",
        cwd=_dir(tmp_path / "s"),
    )
    assert slurm.returncode == 0, slurm.stdout + slurm.stderr
    local = run_cli("capacity-sweep", *CELL, "shards=2", cwd=_dir(tmp_path / "l"))
    assert local.returncode == 0, local.stdout + local.stderr
    pd.testing.assert_frame_equal(_results(tmp_path / "s"), _results(tmp_path / "l"))
    (shard_dirs,) = [list(p.glob("shards/*")) for p in (tmp_path / "s").glob("outputs/*/*")]
    assert shard_dirs and all((d / "task-0.err").exists() for d in shard_dirs)  # written by the array's tasks
    assert queue()  # arrays were submitted (and none is left queued: the fixture cancels what is)


def _dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
