"""The same config and seed give identical tables on CPU, in one process and across processes."""

from __future__ import annotations

import pandas as pd
import pytest

from .conftest import COMMANDS, SMALL, assert_ok, comparable, invoke, tables


def _tables(folder):
    out = {stem: comparable(frame) for stem, frame in tables(folder).items()}
    if (folder / "memory.safetensors").exists():  # store: the memory itself
        from hopfield_cli.data.memory_file import load_memory

        patterns, _ = load_memory(folder / "memory.safetensors")
        out["memory"] = pd.DataFrame(patterns.numpy())
    assert out, f"nothing to compare in {folder}"
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for stem in a:
        pd.testing.assert_frame_equal(a[stem], b[stem], check_exact=True)


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
@pytest.mark.parametrize("command", COMMANDS)
def test_same_seed_same_tables_in_one_process(tmp_path, command):
    for name in ("a", "b"):
        assert_ok(invoke(command, *SMALL[command], "seed=3", run_dir=tmp_path / name))
    _assert_same(_tables(tmp_path / "a"), _tables(tmp_path / "b"))
    assert_ok(invoke(command, *SMALL[command], "seed=4", run_dir=tmp_path / "c"))
    if command != "capacity-sweep":  # a tiny sweep may well measure the same rates with another seed
        with pytest.raises(AssertionError):
            _assert_same(_tables(tmp_path / "a"), _tables(tmp_path / "c"))


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_same_seed_same_tables_across_processes(run_cli_process, tmp_path, command):
    proc = run_cli_process(command, *SMALL[command], "seed=3", f"hydra.run.dir={tmp_path / 'a'}")
    assert proc.returncode == 0, proc.stderr
    for name in ("b", "c"):
        assert_ok(invoke(command, *SMALL[command], "seed=3", run_dir=tmp_path / name))
    _assert_same(_tables(tmp_path / "a"), _tables(tmp_path / "b"))
    _assert_same(_tables(tmp_path / "a"), _tables(tmp_path / "c"))  # and in-process == subprocess
