"""Output and environment faults end in one line and keep what was computed.

stdout on a full device, ``COLUMNS=0``, ``~`` in the run folder, names over 255 bytes, a deleted working folder,
``out=`` naming a folder, a wrong extension or Hydra's ``${hydra:runtime.output_dir}``, ``ulimit -v`` and cgroup
limits, a killed run's temporary beside ``out=``, torch's pickle warning, and a sweep of 20,001 values.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.conftest import assert_one_clean_line, hopfield_command

from .conftest import SMALL, assert_ok, invoke


def run_process(tmp_path: Path, *args: str, stdout=subprocess.PIPE, env: dict | None = None):
    full_env = dict(os.environ, COLUMNS="200")
    full_env.pop("HYDRA_FULL_ERROR", None)
    full_env.update(env or {})
    return subprocess.run(
        [*hopfield_command(), *args],
        cwd=tmp_path,
        env=full_env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_stdout_on_a_full_device_keeps_the_results_and_ends_in_one_line(tmp_path):
    with open("/dev/full", "w") as full:
        proc = run_process(
            tmp_path, "store", *SMALL["store"], "out=m.safetensors", "hydra.run.dir=run", stdout=full
        )
    proc.stdout = ""  # it went to /dev/full
    assert_one_clean_line(proc, "stdout", "no space left")
    assert (tmp_path / "m.safetensors").stat().st_size > 0
    assert (tmp_path / "run" / "summary.json").is_file() and (tmp_path / "run" / "run_info.json").is_file()


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_columns_zero_still_prints_the_results_folder(tmp_path):
    proc = run_process(tmp_path, "store", *SMALL["store"], "hydra.run.dir=run", env={"COLUMNS": "0"})
    assert proc.returncode == 0, proc.stderr
    assert f"results in {tmp_path / 'run'}" in proc.stdout


@pytest.mark.parametrize("columns", ["0", "-3", "abc", "5"])
def test_an_unusable_columns_is_replaced(monkeypatch, columns):
    from hopfield_cli.report.console import MIN_COLUMNS, _width

    monkeypatch.setenv("COLUMNS", columns)
    assert _width() >= MIN_COLUMNS and os.environ["COLUMNS"] == columns
    monkeypatch.setenv("COLUMNS", "120")
    assert _width() is None


def test_a_failed_stdout_write_is_kept_not_raised(monkeypatch):
    from hopfield_cli.report import console

    def full(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    console.reset_stdout_error()
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # restored after the test
    console._to_stdout(full)
    console._to_stdout(full)  # later writes are dropped, not retried
    assert console.stdout_error() == "No space left on device"
    console.reset_stdout_error()
    assert console.stdout_error() is None


def test_a_tilde_in_the_run_folder_is_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert_ok(invoke("store", *SMALL["store"], "hydra.run.dir='~/runs/x'"))
    assert (tmp_path / "home" / "runs" / "x" / "summary.json").is_file()
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("key", ["hydra.run.dir", "out"])
def test_a_name_over_255_bytes_is_one_line(tmp_path, key):
    long = tmp_path / ("a" * 300)
    value = f"{long}.safetensors" if key == "out" else str(long)
    result = invoke(
        "store", *SMALL["store"], f"{key}={value}", run_dir=None if key != "out" else tmp_path / "r"
    )
    assert_one_clean_line(result, key, "bytes long")
    assert not (tmp_path / "r").exists()


def test_a_deleted_working_folder_is_one_line(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert_one_clean_line(invoke("store", *SMALL["store"]), "cwd", "cd to a folder")


@pytest.mark.parametrize(
    ("out", "words"),
    [("od/", "names a folder"), ("x.npy", "must end in .safetensors"), ("x", "must end in .safetensors")],
)
def test_out_a_folder_or_a_wrong_extension_is_refused(tmp_path, monkeypatch, out, words):
    monkeypatch.chdir(tmp_path)
    result = invoke("store", *SMALL["store"], f"out={out}", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "out", words)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_out_in_the_run_folder_with_hydras_idiom_is_accepted(tmp_path):
    result = invoke(
        "store", *SMALL["store"], "out=${hydra:runtime.output_dir}/m.safetensors", run_dir=tmp_path / "r"
    )
    assert_ok(result)
    assert (tmp_path / "r" / "m.safetensors").is_file()


def test_a_killed_stores_temporary_beside_out_is_removed_by_the_next(tmp_path):
    import socket

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    stale = tmp_path / f".m.safetensors.{dead.pid}@{host}.abcd1234.tmp"
    live = tmp_path / f".m.safetensors.{os.getpid()}@{host}.efgh5678.tmp"
    other = tmp_path / f".m.safetensors.{dead.pid}@another-host.ijkl9012.tmp"
    for path in (stale, live, other):
        path.write_bytes(b"half")
    assert_ok(invoke("store", *SMALL["store"], f"out={tmp_path / 'm.safetensors'}", run_dir=tmp_path / "r"))
    assert not stale.exists() and live.exists() and other.exists()


def test_the_temporary_name_carries_its_owner(tmp_path):
    from hopfield_cli.report.files import _temp_prefix
    from hopfield_cli.report.locks import STALE_TEMP

    prefix = _temp_prefix(tmp_path / "a.txt")
    assert prefix.startswith(f".a.txt.{os.getpid()}@")
    assert STALE_TEMP.match(f"{prefix}abcd_123.tmp")  # still swept where a run holds the folder's lock


def test_torchs_pickle_protocol_warning_is_silenced(tmp_path):
    import pickle

    import torch

    from hopfield_cli.app.check.compose import quiet_launcher_schema_warning

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"f": print}, protocol=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        quiet_launcher_schema_warning()
        with pytest.raises(Exception):  # noqa: B017 - torch's own refusal; the reader makes it one line
            torch.load(tmp_path / "evil.pt", weights_only=True)
    assert not [w for w in caught if "pickle protocol" in str(w.message)]


# --- the memory check honours ulimit -v and cgroup limits ------------------------------------------------


def test_the_memory_check_sees_ulimit_v(monkeypatch):
    import resource

    from hopfield_cli.core import budget

    monkeypatch.setattr(resource, "getrlimit", lambda _which: (3 << 30, resource.RLIM_INFINITY))
    monkeypatch.setattr(budget, "_status_bytes", lambda _field: 1 << 30)
    monkeypatch.setattr(budget, "_mem_available", lambda: 64 << 30)
    monkeypatch.setattr(budget, "_cgroup_left", lambda: None)
    assert budget.cpu_memory() == (2 << 30, "ulimit -v")


@pytest.mark.parametrize("version", [1, 2])
def test_the_memory_check_sees_a_cgroup_limit(tmp_path, monkeypatch, version):
    from hopfield_cli.core import budget

    (tmp_path / "cgroup").write_text("0::/job\n" if version == 2 else "4:memory:/job\n3:cpu:/\n")
    folder = tmp_path / "fs" / ("job" if version == 2 else "memory/job")
    folder.mkdir(parents=True)
    names = ("memory.max", "memory.current", "inactive_file")
    if version == 1:
        names = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    (folder / names[0]).write_text(f"{4 << 30}\n")
    (folder / names[1]).write_text(f"{3 << 30}\n")
    (folder / "memory.stat").write_text(f"anon 1\n{names[2]} {1 << 29}\n")
    monkeypatch.setattr(budget, "PROC_CGROUP", str(tmp_path / "cgroup"))
    monkeypatch.setattr(budget, "CGROUP_ROOT", str(tmp_path / "fs"))
    monkeypatch.setattr(budget, "_mem_available", lambda: 64 << 30)
    monkeypatch.setattr(budget, "_address_space_left", lambda: None)
    free, limit = budget.cpu_memory()
    assert free == (1 << 30) + (1 << 29) and names[0] in limit


def test_a_run_over_the_ulimit_is_refused_naming_it(tmp_path, monkeypatch):
    from hopfield_cli.core import budget

    monkeypatch.setattr(budget, "cpu_memory", lambda: (64 << 20, "ulimit -v"))
    result = invoke("store", "num_patterns=100000", "dim=256", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "num_patterns", "ulimit -v")
    assert not (tmp_path / "r").exists()


# --- a long sweep value list is checked in seconds -----------------------------------------------------


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_a_sweep_of_many_values_checks_in_seconds():
    from hopfield_cli.app.check import preflight
    from hopfield_cli.app.check.compose import create_hydra
    from hopfield_cli.app.commands import COMMANDS
    from hopfield_cli.errors import UsageError

    betas = ",".join(str(i + 1) for i in range(2001))
    hydra = create_hydra(None)
    started = time.perf_counter()
    preflight.check_sweep(hydra, COMMANDS["retrieve"], "retrieve", ["dim=8", f"beta={betas}"])
    assert time.perf_counter() - started < 15  # 2,001 values took ~80 s before; now ~3 s on 2 busy cores
    with pytest.raises(UsageError, match=r"beta: .* \(in the sweep job beta=-1\)"):
        preflight.check_sweep(hydra, COMMANDS["retrieve"], "retrieve", ["dim=8", f"beta={betas},-1"])
    with pytest.raises(UsageError, match="beta=abc"):
        preflight.check_sweep(hydra, COMMANDS["retrieve"], "retrieve", ["dim=8", f"beta={betas},abc"])


# --- hydra.job.chdir=true: relative paths mean the launch folder ------------------------------------------


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
@pytest.mark.parametrize("multirun", [False, True])
def test_a_relative_path_with_chdir_is_the_launch_folders(tmp_path, monkeypatch, multirun):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "p.npy", np.where(np.eye(8) > 0, 1.0, -1.0).astype(np.float32))
    args = ["patterns=file", "patterns.path=p.npy", "num_queries=4", "hydra.job.chdir=true"]
    if multirun:
        assert_ok(invoke("retrieve", "-m", *args, "seed=1,2", f"hydra.sweep.dir={tmp_path / 's'}"))
        assert (tmp_path / "s" / "1" / "results.parquet").is_file()
    else:
        assert_ok(invoke("retrieve", *args, run_dir=tmp_path / "r"))
        assert (tmp_path / "r" / "results.parquet").is_file()
