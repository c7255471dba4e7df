"""Device and resources in plain sight (issue 25, item 5): the resolved device, dtype and threads on screen, in
summary.json and in the Parquet provenance; a GPU allocated but unusable said in one line; threads=; the
memory check against the chosen device; estimate=true printing memory and time without running."""

from __future__ import annotations

import json

import pytest
import torch

from hopfield_cli.app.check import checks, resources
from hopfield_cli.errors import CapacityError
from hopfield_cli.experiments.footprint import Term
from hopfield_cli.report.files import read_provenance


def test_allocated_gpus_reads_the_scheduler_variables():
    assert resources.allocated_gpus({}) is None
    assert resources.allocated_gpus({"CUDA_VISIBLE_DEVICES": "-1", "SLURM_JOB_GPUS": ""}) is None
    env = {"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "3"}
    assert resources.allocated_gpus(env) == "CUDA_VISIBLE_DEVICES=0 SLURM_JOB_GPUS=3"


def test_gpu_allocated_but_no_cuda_is_one_loud_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    env = {"CUDA_VISIBLE_DEVICES": "0", "SLURM_JOB_GPUS": "0"}
    line = resources.gpu_warning("auto", env)
    assert line.startswith("WARNING: a GPU is allocated (CUDA_VISIBLE_DEVICES=0 SLURM_JOB_GPUS=0) but torch ")
    assert "\n" not in line and "this run uses the CPU" in line
    assert resources.gpu_warning("cpu", env) is None  # asked for the CPU: nothing to say
    assert resources.gpu_warning("auto", {}) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resources.gpu_warning("auto", env) is None


def test_memory_is_checked_against_the_chosen_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * 1024**3, 80 * 1024**3))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    terms = [Term("num_patterns", 3 * 1024**3, "the patterns")]
    with pytest.raises(
        CapacityError, match=r"2 GiB is available \(the limit of free memory of cuda \(Fake GPU\)\)"
    ):
        checks.check_memory(terms, device="cuda")
    checks.check_memory(terms, device="cpu", available=4 * 1024**3)  # the CPU's memory when run there


def test_a_run_shows_and_records_its_resources(run_cli, tmp_path):
    out = tmp_path / "run"
    ran = run_cli("retrieve", "num_patterns=50", "dim=16", "threads=1", f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    assert "resources: device=cpu (" in ran.stdout and " dtype=float32 threads=1" in ran.stdout
    summary = json.loads((out / "summary.json").read_text())["resources"]
    assert summary["device"] == "cpu" and summary["dtype"] == "float32" and summary["threads"] == 1
    assert read_provenance(out / "results.parquet")["resources"] == summary
    assert json.loads((out / "run_info.json").read_text())["resources"] == summary
    assert "resources: device=cpu" in (out / "retrieve.log").read_text()


def test_threads_out_of_range_is_one_line(run_cli, tmp_path):
    ran = run_cli("store", "threads=0", f"hydra.run.dir={tmp_path / 'x'}")
    assert ran.returncode == 2 and ran.stderr.strip() == (
        "error: threads: must be an integer >= 1 and <= 4,096, got 0"
    )


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_estimate_prints_memory_and_time_and_runs_nothing(run_cli, tmp_path):
    out = tmp_path / "never"
    ran = run_cli(
        "retrieve", "num_patterns=100000", "num_queries=10000", "estimate=true", f"hydra.run.dir={out}"
    )
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0].startswith("resources: device=cpu")
    assert any(line.startswith("memory: about ") and " fits in " in line for line in lines)
    assert any(line.startswith("time: about ") for line in lines)
    assert lines[-1] == "estimate only (estimate=true): nothing was run" and not out.exists()
    # A run too large for the memory is estimated, not refused.
    huge = run_cli("retrieve", "num_patterns=1000000000", "dim=4096", "estimate=true", f"hydra.run.dir={out}")
    assert huge.returncode == 0 and "does NOT fit" in huge.stdout and not out.exists()
    dry = run_cli("store", "--dry-run", f"hydra.run.dir={out}")
    assert dry.returncode == 0 and "estimate only" in dry.stdout and not out.exists()
    refused = run_cli("retrieve", "num_patterns=1000000000", "dim=4096", f"hydra.run.dir={out}")
    assert refused.returncode == 2 and refused.stderr.startswith("error: ")
