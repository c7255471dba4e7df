"""A run's log holds what it printed; every command ends with its results folder; no library noise."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import REPO, assert_one_clean_line


def test_the_run_log_holds_the_config_the_table_and_the_folder(run_cli, tmp_path):
    proc = run_cli("capacity-sweep", "dim=16", "n_max=64", "trials=1", "plots=false", "hydra.run.dir=run")
    assert proc.returncode == 0, proc.stderr
    log = (tmp_path / "run" / "capacity_sweep.log").read_text()
    folder = f"results in {tmp_path / 'run'}"
    for text in ("hopfield capacity-sweep dim=16", "config: patterns=binary", "capacity =", "0.138d", folder):
        assert text in log, text
        assert text in proc.stdout, text
    assert "classical d=16: capacity" in log  # the progress notes of the finished series
    assert proc.stdout.rstrip().splitlines()[-1] == folder  # the folder is the last line printed
    assert "matplotlib" not in proc.stdout + proc.stderr + log


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_every_single_run_command_ends_with_its_folder(run_cli, tmp_path):
    runs = {
        "store": ["store", "num_patterns=20", "dim=8", "hydra.run.dir=s"],
        "retrieve": ["retrieve", "num_patterns=20", "dim=8", "hydra.run.dir=r"],
        "metastable-scan": [
            "metastable-scan",
            "num_betas=3",
            "num_queries=8",
            "plots=false",
            "hydra.run.dir=m",
        ],
        "attention-heads": [
            "attention-heads",
            f"attention={REPO / 'examples' / 'attentions.safetensors'}",
            "plots=false",
            "hydra.run.dir=a",
        ],
    }
    for name, args in runs.items():
        proc = run_cli(*args)
        assert proc.returncode == 0, (name, proc.stderr)
        folder = tmp_path / args[-1].split("=", 1)[1]
        assert proc.stdout.rstrip().splitlines()[-1] == f"results in {folder}", name
        log = next(folder.glob("*.log")).read_text()
        assert f"results in {folder}" in log and "config:" in log, name


def test_a_failed_run_keeps_its_error_line_in_the_log(run_cli, tmp_path):
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an npy file")
    proc = run_cli("retrieve", "patterns=file", f"patterns.path={bad}", "hydra.run.dir=r")
    assert proc.returncode == 2
    log = tmp_path / "r" / "retrieve.log"
    if log.exists():  # a refused run may leave no folder at all (app.run_folder.remove_stub)
        assert "error: patterns.path" in log.read_text()


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_each_multirun_job_log_ends_with_its_folder(run_cli, tmp_path):
    proc = run_cli("retrieve", "-m", "beta=1,8", "num_patterns=20", "dim=8", "hydra.sweep.dir=sweep")
    assert proc.returncode == 0, proc.stderr
    for job in ("0", "1"):
        log = (tmp_path / "sweep" / job / "retrieve.log").read_text()
        assert f"job {job}: ok; results in {tmp_path / 'sweep' / job}" in log
        assert "hopfield retrieve" in log


def test_library_loggers_are_quiet():
    from hopfield_cli.app.run.logs import quiet_libraries
    from hopfield_cli.report import figures  # noqa: F401 - importing it quiets matplotlib too

    quiet_libraries()
    assert logging.getLogger("matplotlib.font_manager").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("PIL").getEffectiveLevel() >= logging.WARNING


def test_a_user_config_without_defaults_is_one_line(run_cli, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "plain.yaml").write_text("num_patterns: 20\ndim: 8\n")
    proc = run_cli("retrieve", "-cd", "mine", "-cn", "plain", "hydra.run.dir=r")
    line = assert_one_clean_line(proc, "--config-name", "defaults: [retrieve, _self_]")
    assert "plain.yaml" in line and not (tmp_path / "r").exists()


def test_the_shipped_example_config_runs(run_cli, tmp_path):
    proc = run_cli(
        "retrieve", "-cd", str(REPO / "examples"), "-cn", "my_retrieve", "num_queries=20", "hydra.run.dir=r"
    )
    assert proc.returncode == 0, proc.stderr
    assert "dense" in proc.stdout and "flip_bernoulli(p=0.15)" in proc.stdout
