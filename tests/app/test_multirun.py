"""Sweeps beyond one process: launchers (submitit_local, joblib, slurm's config), per-job failures, merging.

Real multiruns run `hopfield` in a subprocess (cwd = tmp_path), as a user would.
"""

from __future__ import annotations

import io
import json
import shutil

import pandas as pd
import pytest

from hopfield_cli.report.sweep_figures import save_sweep_figure

TINY_SWEEP = ["dim=16", "trials=2", "num_queries=16", "n_max=64", "models=[modern]", "plots=false"]
MERGED = ("results.parquet", "results.csv", "capacity.parquet", "capacity.csv", "summary.csv", "summary.png")


def _job_status(sweep, num):
    return json.loads((sweep / str(num) / "job_status.json").read_text())


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_submitit_local_sweep_is_merged_and_collect_reproduces_it(run_cli, tmp_path):
    """Two capacity-sweep jobs as separate submitit processes; one merged table; resumable in the same folder."""
    args = ["capacity-sweep", "-m", "beta=1,4", *TINY_SWEEP, "hydra.sweep.dir=sweep"]
    proc = run_cli(*args[:2], "hydra/launcher=submitit_local", *args[2:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sweep = tmp_path / "sweep"
    assert (sweep / ".submitit").is_dir()  # really launched through submitit
    for name in MERGED:
        assert (sweep / name).is_file(), name
    results = pd.read_parquet(sweep / "results.parquet")
    assert set(results["job"]) == {0, 1}
    for num, beta in ((0, 1.0), (1, 4.0)):
        own = pd.read_parquet(sweep / str(num) / "results.parquet")
        part = results[results["job"] == num].drop(columns="job").reset_index(drop=True)
        pd.testing.assert_frame_equal(part, own)  # every row kept, the job's own beta column kept
        assert (part["beta"] == beta).all()
        assert _job_status(sweep, num)["status"] == "ok"
    capacity = pd.read_parquet(sweep / "capacity.parquet")
    assert list(capacity["job"]) == [0, 1] and list(capacity["beta"]) == [1.0, 4.0]
    summary = pd.read_csv(sweep / "summary.csv")
    assert list(summary["status"]) == ["ok", "ok"] and "capacity.modern" in summary.columns
    assert "2 of 2 jobs ok" in proc.stdout

    merged = {name: (sweep / name).read_bytes() for name in MERGED if not name.endswith(".png")}
    for name in MERGED:
        (sweep / name).unlink()
    proc = run_cli("collect", "sweep")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name, before in merged.items():
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(sweep / name), pd.read_parquet(io.BytesIO(before)))
        else:
            assert (sweep / name).read_bytes() == before, name
    assert (sweep / "summary.png").stat().st_size > 0

    # The same sweep again into the same folder: every cell is taken from the jobs' cells.jsonl.
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("0 cells computed") == 2
    pd.testing.assert_frame_equal(pd.read_parquet(sweep / "results.parquet"), results)


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_a_failed_job_is_named_and_the_others_are_merged(run_cli, tmp_path):
    assert (
        run_cli(
            "store", "num_patterns=32", "dim=16", "out=good.safetensors", "hydra.run.dir=store"
        ).returncode
        == 0
    )
    # Its header is sound (the sweep's check reads headers only), its last byte is not: only the job that
    # loads it finds out (the checksum), and the other job's results are kept.
    data = bytearray((tmp_path / "good.safetensors").read_bytes())
    data[-1] ^= 0x55
    (tmp_path / "bad.safetensors").write_bytes(bytes(data))
    proc = run_cli("retrieve", "-m", "memory=good.safetensors,bad.safetensors", "hydra.sweep.dir=sweep")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "error: job 1 (memory=bad.safetensors): failed: memory:" in proc.stderr
    assert "1 of 2 jobs not ok" in proc.stderr
    sweep = tmp_path / "sweep"
    assert _job_status(sweep, 0)["status"] == "ok"
    failed = _job_status(sweep, 1)
    assert failed["status"] == "failed" and failed["error"].startswith("memory:")
    results = pd.read_parquet(sweep / "results.parquet")
    assert set(results["job"]) == {0} and len(results) == 32
    assert set(results["memory"]) == {"good.safetensors"}
    summary = pd.read_csv(sweep / "summary.csv")
    assert list(summary["status"]) == ["ok", "failed"]
    assert summary.loc[1, "error"].startswith("memory: bad.safetensors")

    # A job with no folder at all (never started, or lost) is named as missing; the other's rows stay.
    shutil.rmtree(sweep / "1")
    proc = run_cli("collect", "sweep")
    assert proc.returncode == 1
    assert "error: job 1 (memory=bad.safetensors): missing: no folder" in proc.stderr
    assert len(pd.read_parquet(sweep / "results.parquet")) == 32
    assert list(pd.read_csv(sweep / "summary.csv")["status"]) == ["ok", "missing"]


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_joblib_launcher_runs_two_jobs(run_cli, tmp_path):
    proc = run_cli(
        "retrieve",
        "-m",
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        "num_patterns=32",
        "dim=16",
        "beta=1,8",
        "hydra.sweep.dir=sweep",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Joblib.Parallel" in proc.stdout  # Hydra's joblib launcher, not the basic one
    assert "deprecated" not in proc.stderr
    results = pd.read_parquet(tmp_path / "sweep" / "results.parquet")
    assert results.groupby("job")["beta"].first().to_dict() == {0: 1, 1: 8}
    assert (results.groupby("job").size() == 32).all()


def test_slurm_launcher_config_composes(run_cli):
    proc = run_cli(
        "capacity-sweep",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.gpus_per_node=1",
        "--cfg",
        "hydra",
    )
    assert proc.returncode == 0, proc.stderr
    launcher = proc.stdout.split("\n  launcher:\n", 1)[1]
    for line in (
        "partition: gpu",
        "gpus_per_node: 1",
        "cpus_per_task:",
        "mem_gb:",
        "timeout_min:",
        "array_parallelism:",
        "nodes: 1",
        "tasks_per_node: 1",
        "SlurmLauncher",
    ):
        assert line in launcher, line


@pytest.mark.parametrize("launcher", ["joblib", "slurm", "submitit_local"])
def test_missing_plugin_is_one_line(run_cli, tmp_path, monkeypatch, launcher):
    """Without the `cluster` extra the plugins' modules are not importable: simulated in this process."""
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name.startswith("hydra_plugins.hydra_") else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    proc = run_cli("retrieve", "-m", f"hydra/launcher={launcher}", "beta=1,2")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: hydra/launcher:")
    assert "pip install 'hopfield-cli[cluster]'" in proc.stderr
    assert not (tmp_path / "multirun").exists()


@pytest.mark.slow
def test_missing_plugin_in_a_real_install_is_one_line(run_cli_process, tmp_path):
    """Without the `cluster` extra: a regular `hydra_plugins` package first on the path hides the plugins."""
    (tmp_path / "shadow" / "hydra_plugins").mkdir(parents=True)
    (tmp_path / "shadow" / "hydra_plugins" / "__init__.py").write_text("")
    proc = run_cli_process(
        "retrieve", "-m", "hydra/launcher=joblib", "beta=1,2", env={"PYTHONPATH": str(tmp_path / "shadow")}
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: hydra/launcher:")
    assert "pip install 'hopfield-cli[cluster]'" in proc.stderr
    assert not (tmp_path / "multirun").exists()


def test_collect_refuses_a_folder_that_is_no_sweep(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    for folder in ("empty", "nowhere"):
        proc = run_cli("collect", folder)
        assert proc.returncode == 2 and proc.stderr.startswith("error: sweep_dir:"), proc.stderr
        assert proc.stderr.count("\n") == 1


def test_capacity_figure_plots_capacity_against_d(tmp_path):
    capacity = pd.DataFrame(
        {
            "job": [0, 0, 1, 1],
            "beta": [1.0, 1.0, 4.0, 4.0],
            "model": "modern",
            "dim": [16, 32, 16, 32],
            "capacity": [4, 9, 3, 12],
        }
    )
    summary = pd.DataFrame(
        {
            "job": [0, 1, 2],
            "beta": [1.0, 4.0, 16.0],
            "status": ["ok", "ok", "failed"],
            "seconds": [1.0, 2.0, None],
        }
    )
    path = save_sweep_figure(
        tmp_path / "summary.png", "capacity_sweep", {"capacity": capacity}, summary, ["beta"]
    )
    assert path is not None and path.stat().st_size > 0
    # an unknown command: one bar per job of its first headline number
    path = save_sweep_figure(tmp_path / "bars.png", "store", {}, summary, ["beta"])
    assert path is not None and path.stat().st_size > 0
