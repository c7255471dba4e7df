"""Fixtures shared by every test folder: the `hopfield` command in this process (fast) or in a subprocess.

``run_cli`` runs the real Typer app in this process, the path the console script takes, without ~3 s of
imports per call; ``run_cli_process`` starts the installed console script, for what only a real process shows
(signals, the wheel, launchers, a traceback on stderr). ``compose`` builds a command's typed config the way
the CLI does. Hypothesis runs a fixed, derandomised profile unless HYPOTHESIS_PROFILE=wide (more examples,
random seeds) is set: CI must not depend on a random draw.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]

settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "wide", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def hopfield_command() -> list[str]:
    exe = shutil.which("hopfield", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "hopfield_cli"]


@dataclass
class Ran:
    """How an in-process run ended, with the names of subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str
    exception: BaseException | None = None


def default_sigint() -> None:
    """``preexec_fn`` of a child the test will send SIGINT: a shell that runs the suite in the background starts
    children with SIGINT ignored, and Python then never turns SIGINT into KeyboardInterrupt; the child gets the
    default disposition, as from a terminal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def invoke(*args: str) -> Ran:
    """Run ``hopfield ARGS`` in this process (cwd and environment as they are)."""
    from typer.testing import CliRunner

    from hopfield_cli.cli import app

    result = CliRunner().invoke(app, list(args), catch_exceptions=True)
    exception = result.exception if not isinstance(result.exception, SystemExit) else None
    return Ran(result.exit_code, result.stdout, result.stderr, exception)


@pytest.fixture(autouse=True)
def _forget_run_logging():
    """An in-process run lets Hydra point the root logger at that run's log file; drop it after the test."""
    yield
    import logging

    for name in ("", "hydra"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
                handler.close()


@pytest.fixture
def run_cli(tmp_path, monkeypatch):
    """Run `hopfield ARGS...` in this process with tmp_path as the working folder; returns a ``Ran``."""

    def _run(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float | None = None):
        monkeypatch.chdir(cwd or tmp_path)
        monkeypatch.setenv("COLUMNS", "200")
        monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        return invoke(*args)

    return _run


@pytest.fixture
def run_cli_process(tmp_path):
    """Run `hopfield ARGS...` as a real process in tmp_path; returns subprocess.CompletedProcess (text)."""

    def _run(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
        full_env = dict(os.environ, COLUMNS="200", PYTHONWARNINGS="ignore")
        full_env.pop("HYDRA_FULL_ERROR", None)
        full_env.update(env or {})
        return subprocess.run(
            [*hopfield_command(), *args],
            cwd=cwd or tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return _run


def compose(config_name: str, *overrides: str):
    """The typed config (dataclass instances) of ``conf/<config_name>.yaml`` with ``overrides``, after the
    schema's value checks: what an experiment's ``run`` receives from the CLI."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf, open_dict

    from hopfield_cli.config import check_values, register_configs

    register_configs()
    GlobalHydra.instance().clear()  # an in-process CLI run leaves it initialised
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=list(overrides))
    with open_dict(cfg):
        cfg.pop("hydra", None)
    typed = OmegaConf.to_object(cfg)
    check_values(typed)
    return typed


def assert_one_clean_line(proc, field: str | None = None, contains: str | None = None, code: int = 2) -> str:
    """Exit status ``code``, exactly one line on stderr, ``error: <field>: ...``, no traceback."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    detail = f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"
    assert proc.returncode == code, detail
    assert getattr(proc, "exception", None) is None, f"{detail}\nexception: {proc.exception!r}"
    assert len(lines) == 1, detail
    assert "Traceback" not in proc.stderr + proc.stdout
    assert lines[0].startswith("error: "), lines[0]
    if field is not None:
        assert lines[0].startswith(f"error: {field}: "), lines[0]
    if contains is not None:
        assert contains.lower() in lines[0].lower(), lines[0]
    return lines[0]
