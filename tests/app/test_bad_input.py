"""Every bad input of the foundation issue ends in one line naming the field, exit 2, no traceback, no files."""

from __future__ import annotations

import os

import pytest

from tests.conftest import assert_one_clean_line

BAD_INPUTS = [
    (["dim=abc"], "dim", "integer"),
    (["dim=0"], "dim", ">= 1"),
    (["dim=-3"], "dim", ">= 1"),
    (["beta=0"], "beta", "> 0"),
    (["beta=-1"], "beta", "> 0"),
    (["beta=nan"], "beta", "> 0"),
    (["beta=inf"], "beta", "finite"),
    (["no_such_key=1"], "no_such_key", "unknown key"),
    (["patterns.no_such_key=1"], "patterns.no_such_key", "unknown key"),
    (["patterns=no_such_source"], "patterns", "allowed: binary"),
    (["patterns=file", "patterns.path=missing.npy"], "patterns.path", "not found"),
    (["patterns=images", "patterns.path=missing_folder"], "patterns.path", "not found"),
    (["-m", "beta=1,0"], "beta", "> 0"),
    (["device=tpu"], "device", "auto, cpu, cuda"),
    (["dtype=int8"], "dtype", "float32"),
]

RETRIEVE_ONLY = [
    (["memory=missing.safetensors"], "memory", "not found"),
    (["model=no_such_model"], "model", "allowed: classical"),
    (["corruption=no_such"], "corruption", "allowed:"),
    (["corruption.p=1.5"], "corruption.p", "[0, 1]"),
    (["update_steps_max=-1"], "update_steps_max", ">= 0"),
    (["eps=0"], "eps", "> 0"),
    (["queries_file=missing.npy"], "queries_file", "not found"),
]


def assert_clean_error(proc, field: str, allowed: str, run_dir) -> None:
    assert_one_clean_line(proc, field, allowed)
    assert not run_dir.exists(), "a run folder was created for a rejected command"


@pytest.mark.parametrize("command", ["store", "retrieve"])
@pytest.mark.parametrize(
    ("args", "field", "allowed"), BAD_INPUTS, ids=[" ".join(a) for a, _, _ in BAD_INPUTS]
)
def test_bad_input_is_one_clean_line(run_cli, tmp_path, command, args, field, allowed):
    run_dir = tmp_path / "run"
    proc = run_cli(command, *args, f"hydra.run.dir={run_dir}", f"hydra.sweep.dir={run_dir}")
    assert_clean_error(proc, field, allowed, run_dir)


@pytest.mark.parametrize(
    ("args", "field", "allowed"), RETRIEVE_ONLY, ids=[" ".join(a) for a, _, _ in RETRIEVE_ONLY]
)
def test_retrieve_bad_input_is_one_clean_line(run_cli, tmp_path, args, field, allowed):
    run_dir = tmp_path / "run"
    proc = run_cli("retrieve", *args, f"hydra.run.dir={run_dir}")
    assert_clean_error(proc, field, allowed, run_dir)


def test_input_that_is_a_folder(run_cli, tmp_path):
    (tmp_path / "adir").mkdir()
    run_dir = tmp_path / "run"
    proc = run_cli("retrieve", "memory=adir", f"hydra.run.dir={run_dir}")
    assert_clean_error(proc, "memory", "directory", run_dir)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_subprocess(run_cli, tmp_path):
    f = tmp_path / "locked.npy"
    f.write_bytes(b"x")
    f.chmod(0)
    run_dir = tmp_path / "run"
    proc = run_cli("store", "patterns=file", "patterns.path=locked.npy", f"hydra.run.dir={run_dir}")
    assert_clean_error(proc, "patterns.path", "not readable", run_dir)


def test_unreadable_file_reported(monkeypatch, tmp_path):
    """As root permissions never deny a read, so simulate one: validation must name the field."""
    from hopfield_cli.app.check.checks import check_inputs
    from hopfield_cli.errors import UsageError
    from tests.conftest import compose

    f = tmp_path / "locked.npy"
    f.write_bytes(b"x")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(f) else real_access(p, mode))
    cfg = compose("store", "patterns=file", f"patterns.path={f}")
    with pytest.raises(UsageError, match="not readable") as info:
        check_inputs("store", cfg)
    assert info.value.field == "patterns.path"


@pytest.mark.slow
def test_full_error_env_shows_traceback(run_cli_process, tmp_path):
    proc = run_cli_process(
        "store", "dim=0", f"hydra.run.dir={tmp_path / 'run'}", env={"HYDRA_FULL_ERROR": "1"}
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_multirun_with_cfg_is_a_clean_error(run_cli, tmp_path):
    proc = run_cli("store", "-m", "--cfg", "job", "beta=1,2")
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: --cfg:")
