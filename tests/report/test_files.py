"""report.files: the one atomic write, strict JSON, tables and the run record."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from hopfield_cli.report import files
from hopfield_cli.report.files import atomic_write, write_json, write_run_info, write_table, write_text


def umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_atomic_write_creates_parents_with_usual_permissions_and_no_temp(tmp_path):
    path = write_text(tmp_path / "a" / "b" / "note.txt", "hello\n")
    assert path.read_text() == "hello\n"
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask()
    assert [p.name for p in path.parent.iterdir()] == ["note.txt"]


def test_atomic_write_fsyncs_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    write_text(tmp_path / "x.txt", "x")
    assert events == ["fsync", "replace"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, error):
    path = write_text(tmp_path / "keep.txt", "old")

    def half(tmp: str) -> None:
        with open(tmp, "w") as fh:
            fh.write("ne")
        raise error

    with pytest.raises(error):
        atomic_write(path, half)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_write_json_is_strict_with_nan_as_null(tmp_path):
    import numpy as np
    import torch

    data = {"nan": float("nan"), "inf": [float("inf"), 1.5], "np": np.float64(2.0), "t": torch.tensor(3)}
    text = write_json(tmp_path / "s.json", data).read_text()
    assert json.loads(text) == {"nan": None, "inf": [None, 1.5], "np": 2.0, "t": 3}
    assert "NaN" not in text and "Infinity" not in text


def test_write_table_writes_parquet_and_csv(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})
    parquet, csv = write_table(df, tmp_path / "run", "t")
    assert parquet.name == "t.parquet" and csv.name == "t.csv"
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), df)
    pd.testing.assert_frame_equal(pd.read_csv(csv), df)


def test_run_info_records_seed_versions_and_extras(tmp_path):
    info = json.loads(write_run_info(tmp_path, "store", 7, "cpu", seconds=1.5).read_text())
    assert info["command"] == "store" and info["seed"] == 7 and info["seconds"] == 1.5
    assert info["device"].startswith("cpu") and {"torch", "numpy", "hopfield_cli"} <= set(info["versions"])


def test_tables_carry_their_provenance(tmp_path):
    """Every Parquet file holds the command, config, seed and versions (issue 14), readable without pandas."""
    import pandas as pd

    from hopfield_cli.report.files import provenance, read_provenance, write_table

    frame = pd.DataFrame({"model": ["modern"], "beta": [8.0], "success": [True]})
    with provenance("retrieve", {"beta": 8.0, "model": {"name": "modern"}}, 3):
        parquet, _ = write_table(frame, tmp_path / "run")
    meta = read_provenance(parquet)
    assert meta["command"] == "retrieve" and meta["seed"] == 3 and meta["config"]["beta"] == 8.0
    assert {"torch", "pandas", "hopfield_cli"} <= set(meta["versions"])
    back = pd.read_parquet(parquet)
    assert back.attrs["hopfield"]["config"]["model"] == {"name": "modern"}
    pd.testing.assert_frame_equal(back, frame)
    # outside a run: versions only; in a sweep folder: the sweep's multirun.yaml
    parquet, _ = write_table(frame, tmp_path / "plain")
    assert "config" not in read_provenance(parquet) and read_provenance(parquet)["versions"]
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "multirun.yaml").write_text(
        "hydra:\n  job:\n    name: retrieve\n  overrides:\n    task:\n    - beta=1,8\nbeta: 8.0\nseed: 0\n"
    )
    parquet, _ = write_table(frame, tmp_path / "sweep")
    meta = read_provenance(parquet)
    assert (
        meta["command"] == "retrieve"
        and meta["sweep_overrides"] == ["beta=1,8"]
        and meta["config"]["seed"] == 0
    )
