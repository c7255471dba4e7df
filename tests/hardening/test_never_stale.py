"""Results are never stale, and nothing written outside a run's folders.

A resume or re-run fingerprints the content of its input files, not their paths; a sweep folder holds one
sweep (a different sweep into it is refused; ``collect`` merges only the jobs its ``multirun.yaml`` names);
every file the program appends to is opened without following a symbolic link.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_one_clean_line
from tests.conftest import invoke as hopfield

from .conftest import SMALL, assert_ok, invoke

SWEEP = [a for a in SMALL["capacity-sweep"] if not a.startswith("dims=")]


def patterns_file(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    np.save(path, np.where(rng.random((8, 8)) < 0.5, -1.0, 1.0).astype(np.float32))
    return path


def test_a_pattern_file_edited_in_place_is_a_new_sweep_not_a_resume(tmp_path):
    data = patterns_file(tmp_path / "p.npy", 0)
    args = [*SWEEP, "patterns=file", f"patterns.path={data}"]
    assert_ok(invoke("capacity-sweep", *args, run_dir=tmp_path / "run"))
    saved = json.loads((tmp_path / "run" / "sweep.json").read_text())
    assert set(saved["input_sha256"]) == {"patterns.path"}
    patterns_file(data, 1)  # same path, other content
    again = invoke("capacity-sweep", *args, run_dir=tmp_path / "run")
    assert_one_clean_line(again, "resume", "input_sha256")
    resumed = invoke("capacity-sweep", *args, f"resume={tmp_path / 'run'}", run_dir=tmp_path / "r2")
    assert_one_clean_line(resumed, "resume", "input_sha256")


def test_the_content_hash_reads_in_blocks_and_covers_a_folder(tmp_path, monkeypatch):
    from hopfield_cli.experiments import resume

    monkeypatch.setattr(resume, "HASH_BLOCK", 3)
    (tmp_path / "a.bin").write_bytes(b"0123456789")
    whole = resume.content_hash(tmp_path / "a.bin")
    import hashlib

    assert whole == hashlib.sha256(b"0123456789").hexdigest()
    before = resume.content_hash(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"0123456780")
    assert resume.content_hash(tmp_path) != before


# --- nothing outside the run's folders: one case per writer --------------------------------------------


@pytest.fixture
def resumable(tmp_path):
    assert_ok(invoke("capacity-sweep", *SMALL["capacity-sweep"], run_dir=tmp_path / "run"))
    return tmp_path / "run"


def link_cells(folder: Path, outside: Path) -> None:
    outside.write_bytes((folder / "cells.jsonl").read_bytes())
    (folder / "cells.jsonl").unlink()
    (folder / "cells.jsonl").symlink_to(outside)


def test_a_resumed_cell_log_linked_elsewhere_is_refused_and_not_touched(resumable, tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    link_cells(resumable, outside)
    before = outside.read_bytes()
    result = invoke("capacity-sweep", *SMALL["capacity-sweep"], f"resume={resumable}", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "resume", "symbolic link")
    assert outside.read_bytes() == before and not (tmp_path / "r").exists()


def test_a_rerun_into_a_folder_with_a_linked_cell_log_is_refused(resumable, tmp_path):
    outside = tmp_path / "elsewhere.jsonl"
    link_cells(resumable, outside)
    (outside).write_bytes((outside).read_bytes()[:-5])  # a torn last line: would be cut back
    before = outside.read_bytes()
    result = invoke("capacity-sweep", *SMALL["capacity-sweep"], run_dir=resumable)
    assert_one_clean_line(result, "resume", "symbolic link")
    assert outside.read_bytes() == before


def test_the_cell_log_never_follows_a_link_made_during_the_run(tmp_path):
    from hopfield_cli.experiments.resume import CellLog

    log = CellLog(tmp_path, {"a": 1})
    outside = tmp_path.parent / f"{tmp_path.name}-outside.jsonl"
    outside.write_bytes(b"")
    (tmp_path / "cells.jsonl").symlink_to(outside)
    with pytest.raises(OSError):
        log.add({"n": 1}, [{"x": 1}])
    assert outside.read_bytes() == b""


def test_a_table_or_json_written_over_a_link_replaces_the_link_not_its_target(tmp_path):
    from hopfield_cli.report.files import write_json, write_table

    outside = tmp_path / "outside"
    outside.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    for name in ("summary.json", "results.csv", "results.parquet"):
        (outside / name).write_text("keep")
        (run / name).symlink_to(outside / name)
    write_json(run / "summary.json", {"a": 1})
    write_table(pd.DataFrame({"x": [1]}), run)
    for name in ("summary.json", "results.csv", "results.parquet"):
        assert (outside / name).read_text() == "keep"
        assert not (run / name).is_symlink()


@pytest.mark.parametrize("name", [".hydra/config.yaml", ".hydra/overrides.yaml", "retrieve.log"])
def test_a_run_folder_with_a_linked_hydra_file_or_log_is_refused(tmp_path, name):
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (run / name).symlink_to(outside)
    result = invoke("retrieve", *SMALL["retrieve"], run_dir=run)
    assert_one_clean_line(result, "hydra.run.dir", "symbolic link")
    assert outside.read_text() == "keep"


def test_a_linked_hydra_folder_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (tmp_path / "outside").mkdir()
    (run / ".hydra").symlink_to(tmp_path / "outside")
    result = invoke("retrieve", *SMALL["retrieve"], run_dir=run)
    assert_one_clean_line(result, "hydra.run.dir", "symbolic link")
    assert list((tmp_path / "outside").iterdir()) == []


def test_a_store_out_that_is_a_link_replaces_the_link(tmp_path):
    outside = tmp_path / "outside.safetensors"
    outside.write_text("keep")
    (tmp_path / "m.safetensors").symlink_to(outside)
    result = invoke("store", *SMALL["store"], f"out={tmp_path / 'm.safetensors'}", run_dir=tmp_path / "run")
    assert_ok(result)
    assert outside.read_text() == "keep" and not (tmp_path / "m.safetensors").is_symlink()


# --- one sweep per sweep folder; collect merges only the recorded sweep's jobs --------------------------


def sweep(folder: Path, *values: str):
    return invoke("retrieve", "-m", *SMALL["retrieve"], *values, f"hydra.sweep.dir={folder}")


@pytest.fixture(scope="module")
def three_jobs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweeps") / "sw"
    assert_ok(sweep(folder, "seed=0,1,2"))
    return folder


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_a_different_sweep_into_a_used_folder_is_refused(three_jobs):
    before = (three_jobs / "results.parquet").read_bytes()
    result = sweep(three_jobs, "seed=5,6")
    assert_one_clean_line(result, "hydra.sweep.dir", "holds another sweep")
    assert (three_jobs / "results.parquet").read_bytes() == before
    assert "seed=0" in (three_jobs / "0" / ".hydra" / "overrides.yaml").read_text()


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_the_same_sweep_again_is_allowed(three_jobs, tmp_path):
    assert_ok(sweep(three_jobs, "seed=0,1,2"))
    assert sorted(pd.read_parquet(three_jobs / "results.parquet")["job"].unique()) == [0, 1, 2]


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_collect_merges_only_the_jobs_of_the_recorded_sweep(three_jobs, tmp_path):
    import shutil

    folder = tmp_path / "sw"
    shutil.copytree(three_jobs, folder)
    smaller = tmp_path / "smaller"
    assert_ok(sweep(smaller, "seed=7,8"))
    shutil.copy(smaller / "multirun.yaml", folder / "multirun.yaml")  # as an older version left it
    shutil.copytree(smaller / "0", folder / "0", dirs_exist_ok=True)
    shutil.copytree(smaller / "1", folder / "1", dirs_exist_ok=True)
    result = hopfield("collect", str(folder))
    assert result.returncode == 0, result.stderr
    merged = pd.read_parquet(folder / "results.parquet")
    assert sorted(merged["job"].unique()) == [0, 1]
    assert sorted(merged["seed"].unique()) == [7, 8]
    status = json.loads((folder / "sweep_status.json").read_text())
    assert status["jobs"] == 2 and status["ok"] == 2


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_collect_on_a_job_table_with_a_job_column_and_differing_dtypes(three_jobs, tmp_path):
    import shutil

    folder = tmp_path / "sw"
    shutil.copytree(three_jobs, folder)
    for num, value in ((0, 1), (1, "x"), (2, 2.5)):
        table = folder / str(num) / "results.parquet"
        frame = pd.read_parquet(table)
        frame["job"] = num * 10
        frame["odd"] = value
        frame.to_parquet(table)
    result = hopfield("collect", str(folder))
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    merged = pd.read_parquet(folder / "results.parquet")
    assert sorted(merged["job"].unique()) == [0, 1, 2]
    assert sorted(merged["results_job"].unique()) == [0, 10, 20]
    assert set(merged["odd"]) == {"1", "x", "2.5"}


def test_collect_on_the_parent_of_a_sweep_folder_is_one_line(three_jobs):
    result = hopfield("collect", str(three_jobs.parent))
    assert_one_clean_line(result, "sweep_dir", "collect one of them")
