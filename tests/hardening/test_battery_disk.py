"""The battery: a full disk, a file-size limit and immutable files, while a run writes.

A file-size limit (``ulimit -f``: RLIMIT_FSIZE, with SIGXFSZ ignored as a shell would leave it for a Python
child) stands in for a full disk; it is set in this process around one in-process run and restored after.
Every case ends in exit 0 with finite tables or one line naming the folder and the file; nothing half-written
is left (every file in the folder parses, no temporary file stays) and a refused run that wrote nothing of its
own leaves no folder. Immutable files (``chattr +i``) are refused in one line; the tests skip where chattr does
not work (not root, or a file system without the attribute).
"""

from __future__ import annotations

import errno
import json
import os
import resource
import shutil
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

from hopfield_cli.experiments.resume import CELLS_FILE, CellLog
from hopfield_cli.report import files
from tests.conftest import assert_one_clean_line

from .conftest import COMMANDS, SMALL, assert_finite_tables, assert_ok, invoke

# A battery of many in-process runs: `make test` runs it, `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

STEMS = {"capacity-sweep": "results", "metastable-scan": "fixed_points"}


@contextmanager
def file_size_limit(limit: int):
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def assert_error_line(result, field: str | None = None, contains: str | None = None) -> str:
    """Exit 2 and exactly one ``error:`` line, the last on stderr, no traceback (a sweep's progress lines
    may come before it)."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert result.returncode == 2 and result.exception is None, (result.returncode, result.stderr[-2000:])
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    if field is not None:
        assert errors[0].startswith(f"error: {field}: "), errors[0]
    if contains is not None:
        assert contains.lower() in errors[0].lower(), errors[0]
    return errors[0]


def assert_nothing_half_written(folder: Path) -> None:
    """Every file left parses; no temporary file; no torn cell line."""
    if not folder.exists():
        return
    assert not [p.name for p in folder.rglob("*.tmp")], "a temporary file was left"
    for path in folder.iterdir():
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".csv":
            pd.read_csv(path)
        elif path.name == CELLS_FILE:
            data = path.read_bytes()
            assert not data or data.endswith(b"\n"), "a torn cell line"
            for line in data.splitlines():
                json.loads(line)


@pytest.mark.parametrize("limit", [256, 4096, 9000, 20000])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_size_limit_is_one_line_and_leaves_nothing_half_written(tmp_path, command, limit):
    run_dir = tmp_path / "run"
    with file_size_limit(limit):
        result = invoke(command, *SMALL[command], run_dir=run_dir)
    if result.returncode == 0:
        assert_ok(result)
        if command != "store":
            assert_finite_tables(run_dir)
    else:
        line = assert_error_line(result, None, "File too large")
        assert line.startswith(("error: hydra.run.dir: ", "error: out: ")), line
        if limit == 256:  # not even Hydra's config fits: nothing of the run is left
            assert not run_dir.exists()
    assert_nothing_half_written(run_dir)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_is_one_line(tmp_path, monkeypatch, command):
    def full(_file):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files, "_fsync", full)
    run_dir = tmp_path / "run"
    line = assert_error_line(invoke(command, *SMALL[command], run_dir=run_dir), None, "No space left")
    assert line.startswith(("error: hydra.run.dir: ", "error: out: ")), line
    assert not run_dir.exists() or not [p for p in run_dir.iterdir() if p.suffix in (".parquet", ".csv")]
    assert_nothing_half_written(run_dir)


def test_a_cell_line_the_disk_refuses_is_cut_back(tmp_path):
    log = CellLog(tmp_path, {"seed": 0})
    log.add({"n": 1}, [{"n": 1, "rate": 0.5}])
    size = (tmp_path / CELLS_FILE).stat().st_size
    with file_size_limit(size + 40), pytest.raises(OSError) as error:  # the line starts, then hits the limit
        log.add({"n": 2}, [{"n": 2, "rate": 0.25, "note": "x" * 200}])
    assert error.value.errno == errno.EFBIG and error.value.filename == str(tmp_path / CELLS_FILE)
    assert (tmp_path / CELLS_FILE).stat().st_size == size
    assert len(CellLog(tmp_path, {"seed": 0})) == 1


# --- immutable files -------------------------------------------------------------------------------------


@contextmanager
def immutable(*paths: Path):
    """``chattr +i`` on ``paths`` for the duration (skips the test where that does not work)."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    done = []
    try:
        for path in paths:
            proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.skip(f"chattr +i does not work here: {proc.stderr.strip()}")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=False)


def test_an_immutable_memory_file_is_one_line_and_unchanged(tmp_path):
    out = tmp_path / "memory.safetensors"
    out.write_bytes(b"old")
    with immutable(out):
        result = invoke("store", *SMALL["store"], f"out={out}", run_dir=tmp_path / "run")
    assert_one_clean_line(result, "out")
    assert out.read_bytes() == b"old" and not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", [CELLS_FILE, "results"])
@pytest.mark.parametrize("command", list(STEMS))
def test_an_immutable_file_in_a_resumed_folder_is_one_line(tmp_path, command, name):
    folder = tmp_path / "sweep"
    assert_ok(invoke(command, *SMALL[command], run_dir=folder))
    cells = (folder / CELLS_FILE).read_bytes()
    (folder / CELLS_FILE).write_bytes(b"".join(cells.splitlines(keepends=True)[:-1]))  # one cell to redo
    target = folder / (CELLS_FILE if name == CELLS_FILE else f"{STEMS[command]}.parquet")
    before = target.read_bytes()
    with immutable(target):
        result = invoke(command, *SMALL[command], f"resume={folder}", run_dir=tmp_path / "r")
    line = assert_error_line(result, "resume")
    assert "permission" in line.lower() or "not permitted" in line.lower(), line
    assert target.read_bytes() == before
    assert_nothing_half_written(folder)


@pytest.mark.parametrize("command", COMMANDS)
def test_an_immutable_run_folder_is_one_line(tmp_path, command):
    folder = tmp_path / "run"
    folder.mkdir()
    with immutable(folder):
        result = invoke(command, *SMALL[command], run_dir=folder)
    assert_one_clean_line(result, "hydra.run.dir")
    assert not list(folder.iterdir())


def test_no_file_size_limit_is_left_behind():
    assert resource.getrlimit(resource.RLIMIT_FSIZE)[0] == resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    assert signal.getsignal(signal.SIGXFSZ) in (signal.SIG_DFL, signal.SIG_IGN) and os.getpid()
