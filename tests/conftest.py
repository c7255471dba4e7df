"""Fixtures shared by every test folder: running the real `hopfield` command in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def hopfield_command() -> list[str]:
    exe = shutil.which("hopfield", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "hopfield_cli"]


@pytest.fixture
def run_cli(tmp_path):
    """Run `hopfield ARGS...` in tmp_path; returns CompletedProcess with text stdout/stderr."""

    def _run(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
        full_env = dict(os.environ, COLUMNS="200", HYDRA_FULL_ERROR="0", PYTHONWARNINGS="ignore")
        full_env.pop("HYDRA_FULL_ERROR")
        if env:
            full_env.update(env)
        return subprocess.run(
            [*hopfield_command(), *args],
            cwd=cwd or tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return _run
