"""The wheel ships the configs: build it, install it into a fresh folder and run `hopfield retrieve` there."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_wheel_installed_elsewhere_runs_retrieve(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = dist.glob("hopfield_cli-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hopfield_cli/conf/retrieve.yaml" in names
    assert "hopfield_cli/conf/model/modern.yaml" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(target), COLUMNS="120")
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            "import hopfield_cli.cli as c, hopfield_cli.app.check.compose as k; print(c.__file__); print(k.config_dir())",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(target)) and where[1].startswith(str(target)), where
    script = target / "bin" / "hopfield"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "hopfield_cli"]
    proc = subprocess.run(
        [*cmd, "retrieve", "num_patterns=64", "dim=32", "corruption.p=0.1", "hydra.run.dir=run"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(work / "run" / "results.csv")
    assert len(table) == 64 and table["success"].mean() > 0.9
