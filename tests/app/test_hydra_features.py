"""Every subcommand keeps all of Hydra: --cfg, --info, -cd/-cn, +key=value, -m folders; and our own help."""

from __future__ import annotations

import pandas as pd
import pytest
from safetensors import safe_open

from hopfield_cli import __version__


def test_version_and_top_level_help(run_cli):
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"hopfield {__version__}"
    proc = run_cli("--help")
    assert proc.returncode == 0
    for command in ("store", "retrieve", "capacity-sweep", "metastable-scan", "collect"):
        assert command in proc.stdout


@pytest.mark.parametrize("command", ["store", "retrieve", "capacity-sweep", "metastable-scan"])
def test_command_help_lists_fields_defaults_and_examples(run_cli, command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "Config fields" in proc.stdout and "Examples" in proc.stdout
    assert f"hopfield {command}" in proc.stdout
    assert "seed" in proc.stdout and "device" in proc.stdout and "auto" in proc.stdout


def test_cfg_job_prints_the_composed_config_and_writes_nothing(run_cli, tmp_path):
    proc = run_cli("retrieve", "--cfg", "job", "dim=32", "model=classical", "hydra.run.dir=r")
    assert proc.returncode == 0, proc.stderr
    assert "dim: 32" in proc.stdout and "name: classical" in proc.stdout
    assert not (tmp_path / "r").exists()


def test_info_shows_the_search_path(run_cli):
    proc = run_cli("store", "--info", "searchpath")
    assert proc.returncode == 0, proc.stderr
    assert "conf" in proc.stdout


def test_user_config_dir_and_name(run_cli, tmp_path):
    """A user's primary config extends ours through the search path (-cd) and is picked with -cn."""
    user = tmp_path / "my_configs"
    user.mkdir()
    (user / "small_store.yaml").write_text("defaults:\n  - store\n  - _self_\n\nnum_patterns: 7\ndim: 12\n")
    proc = run_cli("store", "-cd", "my_configs", "-cn", "small_store", "out=m.safetensors", "hydra.run.dir=r")
    assert proc.returncode == 0, proc.stderr
    with safe_open(tmp_path / "m.safetensors", "pt") as fh:
        assert tuple(fh.get_slice("patterns").get_shape()) == (7, 12)


def test_plus_adds_a_hydra_key(run_cli, tmp_path):
    proc = run_cli(
        "store", "num_patterns=5", "dim=8", "+hydra.job.env_set.HOPFIELD_PROBE=1", "hydra.run.dir=r"
    )
    assert proc.returncode == 0, proc.stderr
    assert "HOPFIELD_PROBE" in (tmp_path / "r/.hydra/hydra.yaml").read_text()


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_multirun_writes_one_folder_per_job(run_cli, tmp_path):
    proc = run_cli("retrieve", "-m", "beta=1,8", "num_patterns=20", "dim=16", "hydra.sweep.dir=sweep")
    assert proc.returncode == 0, proc.stderr
    for job, beta in (("0", 1.0), ("1", 8.0)):
        assert (tmp_path / "sweep" / job / ".hydra/config.yaml").exists()
        assert len(pd.read_csv(tmp_path / "sweep" / job / "results.csv")) == 20
        assert f"beta={beta:g}" in (tmp_path / "sweep" / job / ".hydra/overrides.yaml").read_text()
