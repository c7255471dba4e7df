"""The battery: the red-team cases not covered elsewhere, across the four subcommands.

Every case ends in exit 0 with finite results, or in one line ``error: <field>: ...`` (exit 2) with no run
folder left behind. By category: Hydra syntax (interpolations, resolvers, deep nesting, seeds beyond 2^63),
safety (a device, FIFO or socket as ``out=``), environment (ASCII-only output, Ctrl-C while starting),
concurrency (a folder another run holds; default folders unique to the run), resources (errors found only in
the data leave no stub run folder) and sweeps (one bad value among 65). Damaged resume and sweep folders are in
``test_battery_folders``, full disks and immutable files in ``test_battery_disk``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from hopfield_cli.report.files import atomic_write, write_text
from hopfield_cli.report.locks import LOCK_FILE, folder_lock
from tests.conftest import Ran, assert_one_clean_line, default_sigint

from .conftest import COMMANDS, SMALL, assert_finite_tables, assert_ok, invoke

DEEP_LIST = "[" * 3000 + "]" * 3000
HYDRA_SYNTAX = [
    ("seed=${0}", "seed", None),
    ("dim=${oops}", "dim", "oops"),
    ("seed=${oc.env:HOPFIELD_UNSET_VARIABLE}", "seed", "HOPFIELD_UNSET_VARIABLE"),
    ("dim=${seed}", "dim", ">= 1"),
    (f"dim={DEEP_LIST}", "dim", "nested 3,000 levels"),
    ("+deep=" + "{a:" * 500 + "1" + "}" * 500, "deep", "nested 500 levels"),
    ("seed=18446744073709551616", "seed", "<= 9,223,372,036,854,775,807"),
    ("seed=-18446744073709551616", "seed", ">= 0"),
]


def assert_refused(result: Ran, run_dir: Path, field: str, contains: str | None = None) -> None:
    """One clean line naming ``field``, and no run folder."""
    assert_one_clean_line(result, field, contains)
    assert not run_dir.exists(), sorted(p.name for p in run_dir.rglob("*"))


# --- Hydra syntax ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("override, field, contains", HYDRA_SYNTAX, ids=[c[0][:24] for c in HYDRA_SYNTAX])
@pytest.mark.parametrize("command", COMMANDS)
def test_hydra_syntax_is_one_line(tmp_path, command, override, field, contains):
    run_dir = tmp_path / "run"
    assert_refused(invoke(command, *SMALL[command], override, run_dir=run_dir), run_dir, field, contains)


@pytest.mark.parametrize("command", COMMANDS)
def test_deleting_a_schema_key_runs_with_its_default(tmp_path, command):
    assert_ok(invoke(command, *SMALL[command], "~seed", run_dir=tmp_path / "run"))
    if command != "store":
        assert_finite_tables(tmp_path / "run")


# --- safety: a write target must be a regular file or absent ----------------------------------------------


def _socket(path: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()
    return path


SPECIAL = {
    "dev-null": lambda tmp: Path(os.devnull),
    "fifo": lambda tmp: (os.mkfifo(tmp / "fifo"), tmp / "fifo")[1],
    "socket": lambda tmp: _socket(tmp / "sock"),
    "symlink-to-dev-null": lambda tmp: (os.symlink(os.devnull, tmp / "link"), tmp / "link")[1],
}


@pytest.mark.parametrize("kind", list(SPECIAL))
def test_store_never_replaces_a_device_fifo_or_socket(tmp_path, kind):
    target = SPECIAL[kind](tmp_path)
    before = os.stat(target).st_mode
    assert_refused(
        invoke("store", *SMALL["store"], f"out={target}", run_dir=tmp_path / "run"), tmp_path / "run", "out"
    )
    assert os.stat(target).st_mode == before and not stat.S_ISREG(before)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can make a device node")
def test_store_as_root_never_replaces_a_character_device(tmp_path):
    node = tmp_path / "null"
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    assert_refused(
        invoke("store", *SMALL["store"], f"out={node}", run_dir=tmp_path / "run"), tmp_path / "run", "out"
    )
    assert stat.S_ISCHR(node.stat().st_mode)


@pytest.mark.parametrize("kind", ["fifo", "socket", "dev-null"])
def test_atomic_write_refuses_what_is_not_a_regular_file(tmp_path, kind):
    target = SPECIAL[kind](tmp_path)
    with pytest.raises(OSError, match="not a regular file") as error:
        write_text(target, "results")
    assert error.value.filename == str(target)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(IsADirectoryError):
        atomic_write(tmp_path, lambda tmp: None)


# --- environment -----------------------------------------------------------------------------------------


def ascii_invoke(*args: str) -> Ran:
    """``hopfield ARGS`` in this process with stdout and stderr taking ASCII only (as PYTHONIOENCODING=ascii)."""
    from typer.testing import CliRunner

    from hopfield_cli.cli import app

    result = CliRunner(charset="ascii").invoke(app, list(args), catch_exceptions=True)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Ran(result.exit_code, result.stdout, result.stderr, exception)


@pytest.mark.parametrize("command", COMMANDS)
def test_ascii_only_output_with_a_non_ascii_folder(tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "60")  # narrow: Rich truncates with an ellipsis, which ASCII lacks
    run_dir = tmp_path / "résultats-β"  # quoted: Hydra's grammar takes non-ASCII only in quotes
    assert_ok(ascii_invoke(command, *SMALL[command], f"hydra.run.dir='{run_dir}'"))
    if command != "store":
        assert_finite_tables(run_dir)


def test_ascii_only_help_and_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_ok(ascii_invoke("capacity-sweep", "--help"))
    assert_one_clean_line(ascii_invoke("retrieve", "dim=β"), "dim")


def test_ctrl_c_while_the_heavy_libraries_load_is_one_line(monkeypatch, tmp_path):
    from hopfield_cli.app.run import launch

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(launch, "launch", interrupted)
    monkeypatch.chdir(tmp_path)
    result = invoke("retrieve", *SMALL["retrieve"])
    assert result.returncode == 130 and result.exception is None
    assert result.stderr.strip().splitlines() == [
        "interrupted: hopfield retrieve stopped; no file was left half-written"
    ]


def test_ctrl_c_while_the_cli_itself_loads_is_one_line(tmp_path):
    code = (
        "import builtins\n"
        "real = builtins.__import__\n"
        "def fake(name, *args, **kwargs):\n"
        "    if name == 'typer':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = fake\n"
        "import hopfield_cli.cli\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines() == ["interrupted: hopfield stopped while starting; nothing was written"]


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_c_locale_and_ascii_output_in_real_processes(run_cli_process, tmp_path):
    """The environment of a cluster node: no UTF-8 locale (and no UTF-8 mode), or an ASCII-only stdout."""
    for command, env in (
        ("capacity-sweep", {"LC_ALL": "C", "PYTHONUTF8": "0", "COLUMNS": "60"}),
        ("metastable-scan", {"PYTHONIOENCODING": "ascii", "COLUMNS": "60"}),
    ):
        proc = run_cli_process(command, *SMALL[command], f"hydra.run.dir={tmp_path / command}", env=env)
        assert_ok(proc)
        assert_finite_tables(tmp_path / command)


@pytest.mark.slow
def test_ctrl_c_while_torch_loads_is_one_line(tmp_path):
    """A real SIGINT, sent once the import-time log (PYTHONPROFILEIMPORTTIME) shows torch half loaded."""
    from tests.conftest import hopfield_command

    proc = subprocess.Popen(
        [*hopfield_command(), "retrieve", *SMALL["retrieve"]],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPROFILEIMPORTTIME="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    for line in proc.stderr:
        if re.search(r"\|\s+torch\.", line):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest[-2000:]
    said = [ln for ln in rest.splitlines() if ln.strip() and not ln.startswith("import time:")]
    assert len(said) == 1 and said[0].startswith("interrupted: hopfield "), rest[-2000:]
    assert not (tmp_path / "outputs").exists()


# --- concurrency -----------------------------------------------------------------------------------------


@contextmanager
def held(folder: Path):
    """``folder``'s lock held by another process, as a second run would find it."""
    folder.mkdir(exist_ok=True)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            f"fd = os.open({str(folder / LOCK_FILE)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield folder
    finally:
        holder.communicate("")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_run_into_a_folder_another_run_holds_is_refused(tmp_path, command):
    with held(tmp_path / "held") as folder:
        result = invoke(command, *SMALL[command], run_dir=folder)
    assert_one_clean_line(result, "hydra.run.dir", "another hopfield run")
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]  # not even .hydra/ was written


def test_a_sweep_into_a_folder_another_sweep_holds_is_refused(tmp_path):
    with held(tmp_path / "held") as folder:
        result = invoke("retrieve", "-m", *SMALL["retrieve"], "seed=0,1", f"hydra.sweep.dir={folder}")
    assert_one_clean_line(result, "hydra.sweep.dir", "another hopfield run")
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]


@pytest.mark.parametrize("command", ["capacity-sweep", "metastable-scan"])
def test_resuming_a_folder_another_run_holds_is_refused(tmp_path, command):
    folder = tmp_path / "sweep"
    assert_ok(invoke(command, *SMALL[command], run_dir=folder))
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and not p.name.endswith(".log")}
    with held(folder):
        result = invoke(command, *SMALL[command], f"resume={folder}", run_dir=tmp_path / "r")
    assert_refused(result, tmp_path / "r", "resume", "another hopfield run")
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.name in before}
    assert after == before


def test_the_lock_is_reentrant_and_clears_a_killed_runs_temporaries(tmp_path):
    stale = tmp_path / ".results.parquet.ab12cd_9.tmp"
    stale.write_text("half")
    keep = tmp_path / ".notes.tmp"
    keep.write_text("not ours")
    with folder_lock(tmp_path, "hydra.run.dir"), folder_lock(tmp_path / ".", "resume"):
        assert not stale.exists() and keep.exists()
    assert (tmp_path / LOCK_FILE).is_file()


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_two_runs_at_once_get_their_own_folders_and_a_shared_folder_is_refused(run_cli, tmp_path):
    from tests.conftest import hopfield_command

    args = [*hopfield_command(), "retrieve", *SMALL["retrieve"]]
    both = [
        subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in "ab"
    ]
    assert [p.wait(timeout=300) for p in both] == [0, 0]
    folders = sorted(tmp_path.glob("outputs/*/*-retrieve"))
    assert len(folders) == 2 and all((f / "results.parquet").is_file() for f in folders), folders

    sweep = ["metastable-scan", *SMALL["metastable-scan"], "num_betas=40"]
    first = subprocess.Popen([*hopfield_command(), *sweep, "hydra.run.dir=same"], cwd=tmp_path)
    cells = tmp_path / "same" / "cells.jsonl"
    deadline = time.monotonic() + 120
    while first.poll() is None and not (cells.exists() and cells.read_bytes().count(b"\n")):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    first.send_signal(19)  # SIGSTOP: the first run holds the folder, frozen, whatever the machine's load
    try:
        second = run_cli(*sweep, "hydra.run.dir=same")  # in this process: the frozen run is another
    finally:
        first.send_signal(18)  # SIGCONT
    assert_one_clean_line(second, "hydra.run.dir", "another hopfield run")
    assert first.wait(timeout=300) == 0


# --- resources: errors found in the data leave no stub run folder ---------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_a_nan_in_the_patterns_leaves_no_run_folder(tmp_path, command):
    data = np.ones((8, 8), dtype=np.float32)
    data[3, 5] = np.nan
    np.save(tmp_path / "nan.npy", data)
    run_dir = tmp_path / "a" / "b" / "run"
    args = [*SMALL[command], "patterns=file", f"patterns.path={tmp_path / 'nan.npy'}"]
    assert_refused(invoke(command, *args, run_dir=run_dir), tmp_path / "a", "patterns.path", "non-finite")


def test_a_too_small_beta_max_leaves_no_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("metastable-scan", *SMALL["metastable-scan"], "beta_max=1e-6", run_dir=run_dir)
    assert_refused(result, run_dir, "beta_max")


def test_a_stub_in_a_folder_that_existed_keeps_the_folder(tmp_path):
    run_dir = tmp_path / "mine"
    run_dir.mkdir()
    result = invoke("metastable-scan", *SMALL["metastable-scan"], "beta_max=1e-6", run_dir=run_dir)
    assert_one_clean_line(result, "beta_max")
    assert run_dir.is_dir() and not list(run_dir.iterdir())


# --- sweeps: one bad value among many is refused before any job ----------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_one_bad_value_among_65_is_refused_before_any_job(tmp_path, command):
    values = ",".join([*(str(s) for s in range(64)), "-1"])
    sweep = tmp_path / "sweep"
    result = invoke(command, "-m", *SMALL[command], f"seed={values}", f"hydra.sweep.dir={sweep}")
    assert_refused(result, sweep, "seed", "seed=-1")
