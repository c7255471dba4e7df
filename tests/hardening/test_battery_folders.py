"""The battery: damaged resume folders and damaged sweep folders.

A resumed sweep takes every good cell of a damaged ``cells.jsonl`` (garbage or binary in the middle, a record of
the wrong shape, a cell spliced in from a run with another seed, a torn last line) and computes the rest, ending
with the uninterrupted run's table; a damaged ``sweep.json`` is rewritten from the run's settings (each cell
line carries the fingerprint's hash, so only this sweep's cells are kept). What cannot be resumed (a log or
fingerprint that is a folder, a FIFO, a device) is refused in one line, without waiting on a FIFO.
``hopfield collect`` merges what it can or refuses a damaged ``multirun.yaml``/``overrides.yaml`` in one line.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import Ran, assert_one_clean_line
from tests.conftest import invoke as hopfield

from .conftest import SMALL, assert_ok, comparable, invoke

# A battery of many in-process runs: `make test` runs it, `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

STEMS = {"capacity-sweep": "results", "metastable-scan": "fixed_points"}
CELLS, SWEEP = "cells.jsonl", "sweep.json"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Per command: an uninterrupted run and one with another seed (cells to splice in), made once."""
    made: dict[str, tuple[Path, Path]] = {}

    def get(command: str) -> tuple[Path, Path]:
        if command not in made:
            root = tmp_path_factory.mktemp(command)
            assert_ok(invoke(command, *SMALL[command], run_dir=root / "whole"))
            assert_ok(invoke(command, *SMALL[command], "seed=5", run_dir=root / "other"))
            made[command] = (root / "whole", root / "other")
        return made[command]

    return get


def lines(folder: Path) -> list[bytes]:
    return (folder / CELLS).read_bytes().splitlines(keepends=True)


def put(folder: Path, i: int, data: bytes) -> None:
    rows = lines(folder)
    rows[i] = data
    (folder / CELLS).write_bytes(b"".join(rows))


def edit(i: int, change: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    def damage(folder: Path, _other: Path) -> None:
        record = json.loads(lines(folder)[i])
        change(record)
        put(folder, i, json.dumps(record).encode() + b"\n")

    return damage


def replace(name: str, make: Callable[[Path], None]) -> Callable[[Path, Path], None]:
    def damage(folder: Path, _other: Path) -> None:
        (folder / name).unlink()
        make(folder / name)

    return damage


def text(name: str, data: bytes) -> Callable[[Path, Path], None]:
    return lambda folder, _other: (folder / name).write_bytes(data)


RESUMED = {
    "garbage-in-the-middle": lambda f, o: put(f, 1, b"garbage{{{\n"),
    "binary-in-the-middle": lambda f, o: put(f, 1, bytes(range(128, 256)) + b"\n"),
    "a-list-not-an-object": lambda f, o: put(f, 1, b"[1, 2, 3]\n"),
    "json-null": lambda f, o: put(f, 1, b"null\n"),
    "deeply-nested-json": lambda f, o: put(f, 1, b"[" * 100_000 + b"\n"),
    "cell-not-an-object": edit(1, lambda r: r.update(cell="x")),
    "cell-with-a-nested-value": edit(1, lambda r: r["cell"].update(dim={"a": 1})),
    "rows-a-string": edit(1, lambda r: r.update(rows="abc")),
    "rows-of-numbers": edit(1, lambda r: r.update(rows=[1, 2])),
    "rows-empty": edit(1, lambda r: r.update(rows=[])),
    "row-with-a-list": edit(0, lambda r: r["rows"][0].update(extra=[1, 2])),
    "no-fingerprint-hash": edit(1, lambda r: r.pop("sweep")),
    "another-fingerprint-hash": edit(1, lambda r: r.update(sweep="0" * 16)),
    "blank-lines": lambda f, o: put(f, 1, b"\n\n" + lines(f)[1]),
    "a-line-twice": lambda f, o: put(f, 0, lines(f)[0] * 2),
    "torn-last-line": lambda f, o: put(f, -1, lines(f)[-1][:20]),
    "empty-log": text(CELLS, b""),
    "cell-spliced-from-another-seed": lambda f, o: put(f, 0, lines(o)[0]),
    "all-cells-from-another-seed": lambda f, o: shutil.copy(o / CELLS, f / CELLS),
    "tables-lost-to-a-kill": lambda f, o: [p.unlink() for p in [*f.glob("*.parquet"), *f.glob("*.csv")]],
    "sweep-json-a-list": text(SWEEP, b"[1, 2]\n"),
    "sweep-json-null": text(SWEEP, b"null\n"),
    "sweep-json-a-number": text(SWEEP, b"42\n"),
    "sweep-json-garbage": text(SWEEP, b"{{{"),
    "sweep-json-binary": text(SWEEP, bytes(range(128, 256))),
    "sweep-json-empty": text(SWEEP, b""),
}
REFUSED = {
    "cells-log-a-folder": (replace(CELLS, lambda p: p.mkdir()), "not a regular file"),
    "cells-log-a-fifo": (replace(CELLS, os.mkfifo), "not a regular file"),
    "cells-log-a-link-to-dev-null": (
        replace(CELLS, lambda p: p.symlink_to(os.devnull)),
        "not a regular file",
    ),
    "sweep-json-a-folder": (replace(SWEEP, lambda p: p.mkdir()), "not a regular file"),
    "sweep-json-a-fifo": (replace(SWEEP, os.mkfifo), "not a regular file"),
    "sweep-json-missing": (lambda f, o: (f / SWEEP).unlink(), "no sweep.json"),
    "sweep-json-of-another-seed": (lambda f, o: shutil.copy(o / SWEEP, f / SWEEP), "seed"),
}


def resume(command: str, runs, tmp_path: Path, damage) -> tuple[Ran, Path, Path]:
    whole, other = runs(command)
    folder = tmp_path / "damaged"
    shutil.copytree(whole, folder, symlinks=True)
    damage(folder, other)
    return invoke(command, *SMALL[command], f"resume={folder}", run_dir=tmp_path / "r"), folder, whole


@pytest.mark.parametrize("case", list(RESUMED))
@pytest.mark.parametrize("command", list(STEMS))
def test_a_damaged_folder_resumes_from_its_good_cells(runs, tmp_path, command, case):
    result, folder, whole = resume(command, runs, tmp_path, RESUMED[case])
    assert_ok(result)
    stem = STEMS[command]
    pd.testing.assert_frame_equal(
        comparable(pd.read_parquet(folder / f"{stem}.parquet")),
        comparable(pd.read_parquet(whole / f"{stem}.parquet")),
    )
    lines_after = [
        json.loads(line) for line in lines(folder) if line.strip() and line.startswith(b'{"sweep"')
    ]
    assert len({json.dumps(r["cell"], sort_keys=True) for r in lines_after}) >= len(lines(whole))
    if case not in ("a-line-twice", "torn-last-line", "empty-log", "blank-lines", "tables-lost-to-a-kill"):
        assert "warning: " in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("case", list(REFUSED))
@pytest.mark.parametrize("command", list(STEMS))
def test_a_folder_that_cannot_be_resumed_is_one_line(runs, tmp_path, command, case):
    damage, contains = REFUSED[case]
    result, _, _ = resume(command, runs, tmp_path, damage)
    assert_one_clean_line(result, "resume", contains)
    assert not (tmp_path / "r").exists()


# --- hopfield collect on damaged sweep folders ------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep") / "sweep"
    assert_ok(invoke("retrieve", "-m", *SMALL["retrieve"], "seed=0,1", f"hydra.sweep.dir={folder}"))
    return folder


def fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def folder_instead(path: Path) -> None:
    path.unlink()
    path.mkdir()


MULTIRUN, OVERRIDES = "multirun.yaml", "0/.hydra/overrides.yaml"
COLLECT = {  # case -> (file, damage, "merged" or the refusal's words)
    "multirun-not-yaml": (MULTIRUN, b"hydra: [unclosed\n", "not YAML"),
    "multirun-a-list": (MULTIRUN, b"- 1\n- 2\n", "not a dict"),
    "multirun-a-number": (MULTIRUN, b"42\n", "not a dict"),
    "multirun-binary": (MULTIRUN, bytes(range(128, 256)), "damaged"),
    "multirun-a-folder": (MULTIRUN, folder_instead, "not a regular file"),
    "multirun-a-fifo": (MULTIRUN, fifo, "not a regular file"),
    "multirun-params-a-list": (MULTIRUN, b"hydra:\n  sweeper:\n    params: [1, 2]\n", "params"),
    "multirun-task-a-mapping": (MULTIRUN, b"hydra:\n  overrides:\n    task: {a: 1}\n", "overrides"),
    "multirun-empty": (MULTIRUN, b"", "empty"),
    "overrides-not-yaml": (OVERRIDES, b"{a: [\n", "not YAML"),
    "overrides-a-mapping": (OVERRIDES, b"{a: 1}\n", "not a list"),
    "overrides-a-number": (OVERRIDES, b"7\n", "not a list"),
    "overrides-binary": (OVERRIDES, bytes(range(128, 256)), "damaged"),
    "overrides-of-mappings": (OVERRIDES, b"- {a: 1}\n", "key=value"),
    "overrides-a-folder": (OVERRIDES, folder_instead, "not a regular file"),
    "overrides-a-fifo": (OVERRIDES, fifo, "not a regular file"),
    "overrides-deleted": (OVERRIDES, lambda p: p.unlink(), "merged"),
    "job-status-garbage": ("0/job_status.json", b"{{{", "merged"),
    "job-status-a-fifo": ("0/job_status.json", fifo, "merged"),
    "summary-json-a-list": ("0/summary.json", b"[1]", "merged"),
    "results-garbage": ("0/results.parquet", b"not parquet", "merged"),
    "results-a-fifo": ("0/results.parquet", fifo, "merged"),
    "hydra-yaml-binary": ("1/.hydra/hydra.yaml", bytes(range(128, 256)), "merged"),
    "a-job-folder-missing": ("1", shutil.rmtree, "merged"),
}


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.parametrize("case", list(COLLECT))
def test_collect_on_a_damaged_sweep_merges_or_is_one_line(sweep, tmp_path, monkeypatch, case):
    name, damage, outcome = COLLECT[case]
    folder = tmp_path / "sweep"
    shutil.copytree(sweep, folder)
    target = folder / name
    target.write_bytes(damage) if isinstance(damage, bytes) else damage(target)
    monkeypatch.chdir(tmp_path)
    result = hopfield("collect", str(folder))
    if outcome != "merged":
        assert_one_clean_line(result, "sweep_dir", outcome)
        return
    assert result.exception is None and result.returncode in (0, 1), (result, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert all(line.startswith("error: ") for line in result.stderr.splitlines() if line.strip())
    merged = pd.read_parquet(folder / "results.parquet")
    assert set(merged["job"]) <= {0, 1} and len(merged)
    if "results" in case or "missing" in case:  # the job whose rows are gone is named, never "ok"
        assert result.returncode == 1 and "job " in result.stderr
