"""`hydra/launcher=slurm` against a real one-node SLURM cluster (scripts/slurm_cluster.sh), and its checks.

Tests marked ``slurm`` need the local cluster: ``make test-slurm`` brings it up (as root, on Debian) and runs
them; elsewhere they are skipped with the reason the script gives (not root, no apt-get, not up). They wait by
polling squeue and files with deadlines, never by sleeping a fixed time. The tests without the mark check the
parsing and the refusals without any cluster (they run in ``make test``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from hopfield_cli.app.slurm import request as slurm
from hopfield_cli.app.slurm.array import describe
from hopfield_cli.errors import UsageError
from tests.conftest import REPO, assert_one_clean_line, default_sigint, hopfield_command

SCRIPT = REPO / "scripts" / "slurm_cluster.sh"
# One CPU and 1 GB per job, so the 2-CPU test node runs two jobs at once.
ON_SLURM = [
    "hydra/launcher=slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]
TINY_CAPACITY = ["dims=[16]", "trials=2", "n_max=64", "models=[modern]", "plots=false"]
TINY_SCAN = ["num_patterns=16", "dim=16", "clusters=4", "num_queries=16", "num_betas=4", "plots=false"]
# 23 cells (growth x1.5 up to d=64's capacity, ~2,600). With num_queries=2048 and 16 trials a job of ~18 s on
# 2 idle cores (4.4 s with 4 trials), all but ~0.1 s of it after its third cell: a test that cancels it once
# three cells are on disk cannot lose the race to its end. With num_queries=16, the same cells in a second.
SLOW_JOB = ["dims=[64]", "trials=16", "growth=1.5", "n_max=8192", "models=[modern]", "plots=false"]
# A job that runs for many minutes: it is still running whenever the test signals the driver (the fixture
# cancels it).
ENDLESS_JOB = ["dims=[64]", "trials=1000", "growth=1.5", "n_max=8192", "models=[modern]", "plots=false"]


def poll(check, timeout: float, what: str):
    """``check()``'s first truthy value, asked every 0.2 s; the test fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up after {timeout} s waiting for {what}")


def squeue(*args: str) -> list[str]:
    shown = subprocess.run(["squeue", "--noheader", *args], capture_output=True, text=True, timeout=30)
    return shown.stdout.split()


@pytest.fixture(scope="module")
def cluster():
    """The local cluster answers (else skip, saying why); its partition `debug` as sinfo describes it."""
    status = subprocess.run(["bash", str(SCRIPT), "status"], capture_output=True, text=True, timeout=60)
    if status.returncode != 0:
        check = subprocess.run(["bash", str(SCRIPT), "check"], capture_output=True, text=True, timeout=60)
        if check.returncode != 0:
            pytest.skip(check.stderr.strip() or f"{SCRIPT.name} check failed")
        pytest.skip(
            "the local SLURM cluster is not up: `make test-slurm` starts it (scripts/slurm_cluster.sh up)"
        )
    found = slurm.partitions()
    assert found is not None and "debug" in found, status.stderr
    return found["debug"]


@pytest.fixture
def queue(cluster):
    """The SLURM jobs this test submitted (new array ids); whatever of them is still queued is cancelled."""
    before = set(squeue("--states=all", "--format=%F"))

    def new() -> set[str]:
        return set(squeue("--states=all", "--format=%F")) - before

    yield new
    left = new()
    if left:
        subprocess.run(["scancel", *sorted(left)], check=False, timeout=30)


def start(*args: str, cwd: Path, stderr: Any = subprocess.PIPE) -> subprocess.Popen:
    """`hopfield ARGS` as a real process (for what needs a second actor: scancel, Ctrl-C)."""
    return subprocess.Popen(
        [*hopfield_command(), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        preexec_fn=default_sigint,
    )


def submitted(sweep: Path) -> str:
    """The sweep's SLURM job id (the array's, or the one job's), once submitit has made its folder for it."""

    def found() -> list[str]:
        folder = sweep / ".submitit"
        return sorted(p.name for p in folder.iterdir() if p.name.isdigit()) if folder.is_dir() else []

    return poll(found, 60, f"a job submitted into {sweep}")[0]


def complete_lines(path: Path) -> int:
    """Cells in a cell log (a line torn by a kill does not count)."""

    def whole(line: str) -> bool:
        try:
            return isinstance(json.loads(line), dict)
        except ValueError:
            return False

    return sum(whole(line) for line in path.read_text().splitlines()) if path.is_file() else 0


def assert_same_merge(one: Path, other: Path) -> None:
    """The merged tables of two sweep folders agree (timings aside); both merged every table."""
    stems = sorted(p.name for p in one.glob("*.parquet"))
    assert stems == sorted(p.name for p in other.glob("*.parquet")) and "summary.parquet" not in stems
    for name in stems:
        a, b = (pd.read_parquet(folder / name) for folder in (one, other))
        timing = [c for c in a.columns if c == "seconds"]
        pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))
    statuses = [pd.read_csv(folder / "summary.csv")["status"].tolist() for folder in (one, other)]
    assert statuses[0] == statuses[1]


def assert_went_through_slurm(proc, sweep: Path, jobs: int) -> None:
    """One array in .submitit, its state shown while waiting, the accounting note once, no sacct noise."""
    arrays = {p.name for p in (sweep / ".submitit").iterdir() if p.name.isdigit()}
    assert len(arrays) == 1, arrays
    array = arrays.pop()
    assert sorted(p.name for p in (sweep / ".submitit").glob(f"{array}_*")) == [
        f"{array}_{n}" for n in range(jobs)
    ]
    assert f"slurm array {array}: {jobs} done" in proc.stderr
    assert sum("accounting" in line for line in proc.stderr.splitlines()) == 1
    assert "Bypassing sacct" not in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------ on the cluster: sweeps


@pytest.mark.slurm
def test_capacity_sweep_on_slurm_merges_what_the_basic_launcher_merges(run_cli, tmp_path, queue):
    sweep = ["capacity-sweep", "-m", "beta=1,4", *TINY_CAPACITY]
    proc = run_cli(*sweep, *ON_SLURM, "hydra.sweep.dir=slurm")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_went_through_slurm(proc, tmp_path / "slurm", jobs=2)
    assert "2 of 2 jobs ok" in proc.stdout
    basic = run_cli(*sweep, "hydra.sweep.dir=basic")
    assert basic.returncode == 0, basic.stdout + basic.stderr
    assert_same_merge(tmp_path / "slurm", tmp_path / "basic")
    assert set(pd.read_parquet(tmp_path / "slurm" / "capacity.parquet")["beta"]) == {1.0, 4.0}
    assert queue() and not queue() & set(squeue("--states=PENDING,RUNNING", "--format=%F"))


@pytest.mark.slurm
def test_metastable_scan_on_slurm_merges_what_the_basic_launcher_merges(run_cli, tmp_path, queue):
    sweep = ["metastable-scan", "-m", "seed=0,1", *TINY_SCAN]
    proc = run_cli(*sweep, *ON_SLURM, "hydra.sweep.dir=slurm")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_went_through_slurm(proc, tmp_path / "slurm", jobs=2)
    basic = run_cli(*sweep, "hydra.sweep.dir=basic")
    assert basic.returncode == 0, basic.stdout + basic.stderr
    assert_same_merge(tmp_path / "slurm", tmp_path / "basic")
    assert {"betas.parquet", "fixed_points.parquet"} <= {p.name for p in (tmp_path / "slurm").iterdir()}


@pytest.mark.slurm
def test_a_job_that_fails_on_slurm_is_named_and_the_others_are_merged(run_cli, tmp_path, queue):
    """A memory file edited after `hopfield store` (its checksum no longer matches) fails in its job."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    stored = run_cli("store", "num_patterns=32", "dim=16", "out=good.safetensors", "hydra.run.dir=store")
    assert stored.returncode == 0, stored.stderr
    with safe_open(str(tmp_path / "good.safetensors"), "pt") as good:
        metadata = good.metadata()
    edited = {name: -tensor for name, tensor in load_file(str(tmp_path / "good.safetensors")).items()}
    save_file(edited, str(tmp_path / "edited.safetensors"), metadata=metadata)
    proc = run_cli(
        "retrieve", "-m", "memory=good.safetensors,edited.safetensors", *ON_SLURM, "hydra.sweep.dir=sweep"
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "error: job 1 (memory=edited.safetensors): failed: memory:" in proc.stderr
    assert "1 of 2 jobs not ok" in proc.stderr
    sweep = tmp_path / "sweep"
    assert json.loads((sweep / "1" / "job_status.json").read_text())["status"] == "failed"
    results = pd.read_parquet(sweep / "results.parquet")
    assert set(results["job"]) == {0} and len(results) == 32
    assert pd.read_csv(sweep / "summary.csv")["status"].tolist() == ["ok", "failed"]


@pytest.mark.slurm
def test_a_job_killed_with_scancel_is_missing_and_a_rerun_computes_only_what_is_missing(
    run_cli, tmp_path, queue
):
    """Without accounting, submitit would wait for the cancelled job forever; here it is reported missing."""
    sweep = ["capacity-sweep", "-m", "num_queries=16,2048", *SLOW_JOB, *ON_SLURM, "hydra.sweep.dir=sweep"]
    driver = start(*sweep, cwd=tmp_path)
    cells = tmp_path / "sweep" / "1" / "cells.jsonl"
    try:
        array = submitted(tmp_path / "sweep")
        poll(lambda: complete_lines(cells) >= 3, 120, "job 1's first three cells")
        subprocess.run(["scancel", f"{array}_1"], check=True, timeout=30)
        out, err = driver.communicate(timeout=180)
    finally:
        driver.kill()
    assert driver.returncode == 1, out + err
    assert f"slurm array {array}: 1 done, 1 ended without results (job 1: CANCELLED)" in err
    assert (
        "error: job 1 (num_queries=2048 dims=[64] " in err and "): missing: not finished, no results" in err
    )
    assert "Traceback" not in out + err
    kept = complete_lines(cells)  # the driver returns once the job's processes are gone
    assert pd.read_csv(tmp_path / "sweep" / "summary.csv")["status"].tolist() == ["ok", "missing"]
    # scancel's SIGTERM stopped the job at once (submitit alone would ignore it until SIGKILL), saying so
    job_log = tmp_path / "sweep" / ".submitit" / f"{array}_1" / f"{array}_1_0_log.err"
    assert f"job 1 stopped by signal 15: {kept} cells kept in " in job_log.read_text()

    rerun = run_cli(*sweep)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    info = [json.loads((tmp_path / "sweep" / str(n) / "run_info.json").read_text()) for n in (0, 1)]
    assert info[0]["cells_computed"] == 0 and info[0]["cells_resumed"] > 0
    assert info[1]["cells_resumed"] == kept and info[1]["cells_computed"] > 0
    assert complete_lines(cells) == kept + info[1]["cells_computed"]
    assert pd.read_csv(tmp_path / "sweep" / "summary.csv")["status"].tolist() == ["ok", "ok"]


@pytest.mark.slurm
def test_ctrl_c_leaves_the_array_running_and_says_how_to_cancel_it(tmp_path, queue):
    # stderr goes to a file the test reads while the driver runs: Ctrl-C is sent only once the driver has
    # printed the status line of a running job, i.e. once it is waiting (a signal that arrived while
    # submitit was still submitting would test something else, and under load it can arrive then).
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:
        driver = start(
            "capacity-sweep",
            "-m",
            "num_queries=2048",
            *ENDLESS_JOB,
            *ON_SLURM,
            "hydra.sweep.dir=sweep",
            cwd=tmp_path,
            stderr=stderr,
        )
        try:
            job = submitted(tmp_path / "sweep")  # one job: submitted as a plain job, not an array
            poll(lambda: f"slurm array {job}: 1 running" in log.read_text(), 120, "the status line of a run")
            driver.send_signal(signal.SIGINT)
            out, _ = driver.communicate(timeout=120)
        finally:
            driver.kill()
    err = log.read_text()
    assert driver.returncode == 130, out + err
    last = err.strip().splitlines()[-1]
    assert last == (
        f"interrupted: the SLURM job array {job} keeps running (0 of 1 jobs done): cancel it with "
        f"`scancel {job}`, or merge what has finished with `hopfield collect sweep`"
    )
    assert "Traceback" not in out + err
    assert squeue(f"--jobs={job}", "--format=%T") == ["RUNNING"]  # still running; the fixture cancels it


# --------------------------------------------------------------- on the cluster: refused before queueing


def _refusals(node):
    cpus, mem_mb, _ = node
    return [
        ("hydra.launcher.partition=gpu", "hydra.launcher.partition", "its partitions: debug (default)"),
        (f"hydra.launcher.cpus_per_task={cpus + 1}", "hydra.launcher.cpus_per_task", f"at most {cpus}"),
        (
            f"hydra.launcher.mem_gb={mem_mb // 1024 + 1}",
            "hydra.launcher.mem_gb",
            "set hydra.launcher.mem_gb=",
        ),
        ("hydra.launcher.gpus_per_node=1", "hydra.launcher.gpus_per_node", "have no GPUs"),
        ("hydra.launcher.nodes=2", "hydra.launcher.nodes", "partition 'debug' has 1"),
        (
            "hydra.launcher.constraint=nosuchfeature",
            "hydra.launcher.constraint",
            "Invalid feature specification",
        ),
    ]


@pytest.mark.slurm
@pytest.mark.parametrize("case", range(6))
def test_a_request_that_can_never_run_is_one_line_and_nothing_is_queued(
    run_cli, tmp_path, cluster, queue, case
):
    """The last case passes our check and is refused by sbatch itself: also one line."""
    override, field, offered = _refusals(cluster.nodes[0])[case]
    started = time.monotonic()
    proc = run_cli("capacity-sweep", "-m", "beta=4,8", *TINY_CAPACITY, *ON_SLURM, override)
    assert time.monotonic() - started < 10
    assert_one_clean_line(proc, field, offered)
    assert not queue()
    assert case == 5 or not (tmp_path / "multirun").exists()


@pytest.mark.slurm
def test_the_issue_s_request_ends_in_one_line_within_10_s(run_cli_process, tmp_path, cluster, queue):
    """The shipped defaults (4 CPUs, 16 GB) on a smaller node: a real process, timed from the outside."""
    cpus = cluster.nodes[0][0]
    too_many = [] if cpus < 4 else [f"hydra.launcher.cpus_per_task={cpus + 1}"]
    started = time.monotonic()
    proc = run_cli_process(
        "capacity-sweep",
        "-m",
        "hydra/launcher=slurm",
        "hydra.launcher.partition=debug",
        *too_many,
        "beta=4,8",
        "dims=[16]",
        timeout=60,
    )
    assert time.monotonic() - started < 10
    assert_one_clean_line(proc, "hydra.launcher.cpus_per_task", f"have at most {cpus}")
    assert not queue()


# ------------------------------------------------------------------------------- without a cluster


def test_without_slurm_commands_the_slurm_launcher_is_one_line(run_cli, tmp_path, monkeypatch):
    monkeypatch.setattr(slurm.shutil, "which", lambda _name: None)
    proc = run_cli("capacity-sweep", "-m", "hydra/launcher=slurm", "beta=1,2")
    assert_one_clean_line(proc, "hydra/launcher", "not on this machine's PATH")
    assert not (tmp_path / "multirun").exists()


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("UNLIMITED", None), ("30", 30), ("45:30", 46), ("1:00:00", 60), ("2-12:00:00", 3600), ("1-0", 1440)],
)
def test_slurm_time_limits_in_minutes(text, minutes):
    assert slurm.minutes(text) == minutes


def test_gpus_counted_from_gres():
    assert slurm.gpus("gpu:a100:2(S:0-1),shard:8") == 2
    assert slurm.gpus("gpu:4,gpu:v100:2") == 6
    assert slurm.gpus("(null)") == 0


def test_requests_checked_against_the_partition():
    part = slurm.Partition("gpu", total_nodes=2, max_minutes=60, nodes=[(8, 32768, 0), (16, 65536, 4)])
    fits = {"cpus_per_task": 16, "mem_gb": 64, "gpus_per_node": 4, "nodes": 2, "timeout_min": 60}
    slurm.check_fits(fits, part)
    for key, value, says in [
        ("cpus_per_task", 17, "at most 16"),
        ("mem_gb", 65, "at most 64.0 GB"),
        ("gpus_per_node", 5, "at most 4 GPUs"),
        ("nodes", 3, "has 2"),
        ("timeout_min", 61, "at most 60"),
    ]:
        with pytest.raises(UsageError) as refused:
            slurm.check_fits({**fits, key: value}, part)
        assert refused.value.field == f"hydra.launcher.{key}" and says in refused.value.message


def test_sbatch_errors_become_one_line_naming_a_field():
    error = slurm.submission_error(
        "sbatch: error: Batch job submission failed: Invalid account or account/partition combination\n"
        "sbatch: error: Batch job submission failed: Invalid account or account/partition combination\n"
    )
    assert error.field == "hydra.launcher.account"
    assert error.message == "sbatch refused the job array: Invalid account or account/partition combination"
    assert slurm.submission_error("sbatch: error: something new").field == "hydra.launcher"


def test_the_status_line_names_running_pending_reasons_and_jobs_without_results():
    states = {"7_1": ("RUNNING", "None"), "7_2": ("PENDING", "Resources"), "7_3": ("PENDING", "Resources")}
    assert describe("7", states, 1, {}) == "slurm array 7: 1 running, 2 pending (Resources), 1 done"
    states["7_4"] = ("PENDING", "Priority")
    line = describe("7", states, 0, {"7_0": (0, "CANCELLED")})
    assert line == (
        "slurm array 7: 1 running, 3 pending (2 Resources, 1 Priority), 0 done, "
        "1 ended without results (job 0: CANCELLED)"
    )
