"""Output folders that cannot be written, and folders that already hold another sweep."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from tests.conftest import assert_one_clean_line

from .conftest import COMMANDS, SMALL, assert_ok, invoke


@pytest.mark.parametrize("command", COMMANDS)
def test_run_folder_under_a_file(tmp_path, command):
    (tmp_path / "a_file").write_text("x")
    result = invoke(command, *SMALL[command], run_dir=tmp_path / "a_file" / "run")
    assert_one_clean_line(result, "hydra.run.dir", "is a file")


@pytest.mark.parametrize("command", COMMANDS)
def test_sweep_folder_under_a_file(tmp_path, command):
    (tmp_path / "a_file").write_text("x")
    result = invoke(
        command, "-m", *SMALL[command], "seed=0,1", f"hydra.sweep.dir={tmp_path / 'a_file' / 'sweep'}"
    )
    assert_one_clean_line(result, "hydra.sweep.dir", "is a file")


@pytest.mark.parametrize("command", COMMANDS)
def test_read_only_run_folder_simulated(monkeypatch, tmp_path, command):
    parent = tmp_path / "locked"
    parent.mkdir()
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p) == str(parent) else real_access(p, mode, **kw)
    )
    result = invoke(command, *SMALL[command], run_dir=parent / "run")
    assert_one_clean_line(result, "hydra.run.dir", "not writable")
    assert not (parent / "run").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_run_folder_for_real(tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    result = invoke("store", *SMALL["store"], run_dir=parent / "run")
    assert_one_clean_line(result, "hydra.run.dir", "not writable")


def test_memory_out_under_a_file(tmp_path):
    (tmp_path / "a_file").write_text("x")
    result = invoke(
        "store", *SMALL["store"], f"out={tmp_path / 'a_file' / 'm.safetensors'}", run_dir=tmp_path / "r"
    )
    assert_one_clean_line(result, "out", "is a file")
    result = invoke("store", *SMALL["store"], f"out={tmp_path}", run_dir=tmp_path / "r2")
    assert_one_clean_line(result, "out", "directory")


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
@pytest.mark.parametrize("command", ["capacity-sweep", "metastable-scan"])
def test_folder_holding_a_different_sweep_is_refused(tmp_path, command):
    folder = tmp_path / "run"
    assert_ok(invoke(command, *SMALL[command], run_dir=folder))
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    result = invoke(command, *SMALL[command], "seed=7", run_dir=folder)
    assert_one_clean_line(result, "resume", "seed")
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name in before}
    assert {k: v for k, v in after.items() if not k.endswith(".log")} == {
        k: v for k, v in before.items() if not k.endswith(".log")
    }, "a refused run changed the other sweep's files"
    result = invoke(command, *SMALL[command], f"resume={folder}", "seed=7", run_dir=tmp_path / "other")
    assert_one_clean_line(result, "resume", "seed")
    # the same config resumes: nothing is recomputed and the table is unchanged
    stem = "results" if command == "capacity-sweep" else "fixed_points"
    table = pd.read_parquet(folder / f"{stem}.parquet")
    assert_ok(invoke(command, *SMALL[command], f"resume={folder}", run_dir=tmp_path / "again"))
    pd.testing.assert_frame_equal(pd.read_parquet(folder / f"{stem}.parquet"), table)


@pytest.mark.parametrize("command", ["capacity-sweep", "metastable-scan"])
def test_resume_of_a_folder_of_the_other_command_is_refused(tmp_path, command):
    other = "metastable-scan" if command == "capacity-sweep" else "capacity-sweep"
    folder = tmp_path / "run"
    assert_ok(invoke(other, *SMALL[other], run_dir=folder))
    result = invoke(command, *SMALL[command], f"resume={folder}", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "resume")
    assert json.loads((folder / "sweep.json").read_text())["command"] == other


@pytest.mark.parametrize("command", COMMANDS)
def test_result_files_get_the_usual_permissions(tmp_path, command):
    """Atomic writes go through mkstemp (0600); results must be readable like any other file (umask)."""
    assert_ok(invoke(command, *SMALL[command], run_dir=tmp_path / "r"))
    mask = os.umask(0)
    os.umask(mask)
    for path in (tmp_path / "r").iterdir():
        if path.is_file() and not path.name.endswith(".log"):
            assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path.name
