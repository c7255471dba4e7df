"""Issue 7, part 5: numeric extremes give finite tables, and a one-line warning where results lose meaning."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import assert_one_clean_line

from .conftest import SMALL, assert_finite_tables, assert_ok, invoke

SWEEP_FAST = {  # the file/beta overrides below replace the pattern source; these keep the runs tiny
    "store": [],
    "retrieve": ["num_queries=4", "update_steps_max=20"],
    "capacity-sweep": [
        "models=[modern]",
        "trials=1",
        "num_queries=4",
        "refine_steps=1",
        "plots=false",
        "n_start=1",
    ],
    "metastable-scan": ["clusters=0", "num_queries=4", "num_betas=3", "plots=false", "update_steps_max=50"],
}


def _file(tmp_path, name, array):
    path = tmp_path / f"{name}.npy"
    np.save(path, np.asarray(array, dtype=np.float32))
    return path


def _patterns(kind):
    rng = np.random.default_rng(0)
    signs = rng.choice([-1.0, 1.0], (6, 8))
    return {
        "norm 1e-6": signs / np.sqrt(8) * 1e-6,
        "norm 1e4": signs / np.sqrt(8) * 1e4,
        "duplicated": np.vstack([signs[:3], signs[:3]]),
        "N=1": signs[:1],
        "d=1": np.array([[1.0], [-1.0], [2.0], [0.5]]),
        "all equal": np.ones((4, 8)),
    }[kind]


WARNS = {
    "norm 1e4": "one-hot",
    "duplicated": "duplicate",
    "N=1": "only one stored pattern",
    "d=1": "d = 1",
    "all equal": "duplicate",
}
KINDS = ["norm 1e-6", "norm 1e4", "duplicated", "N=1", "d=1", "all equal"]
COMMANDS = list(SWEEP_FAST)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("command", COMMANDS)
def test_extreme_patterns(tmp_path, command, kind):
    path = _file(tmp_path, "x", _patterns(kind))
    args = [*SWEEP_FAST[command], "patterns=file", f"patterns.path={path}"]
    if command == "metastable-scan" and kind in ("all equal", "N=1"):
        result = invoke(command, *args, run_dir=tmp_path / "r")
        assert_one_clean_line(result, "beta_min", "m_max = 0")
        args += ["beta_min=0.1", "beta_max=10"]
    result = invoke(command, *args, run_dir=tmp_path / "r2")
    assert_ok(result)
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    if kind == "norm 1e4" and command in ("store", "metastable-scan"):
        assert not warnings, (
            result.stderr
        )  # no beta of the run's own: beta only summarises (store) or is derived
    elif kind in WARNS:
        assert any(WARNS[kind] in ln for ln in warnings), result.stderr
    elif command != "store":
        assert not warnings, result.stderr
    if command != "store":
        assert_finite_tables(tmp_path / "r2")


BETAS = {
    "retrieve": lambda b: [f"beta={b}"],
    "capacity-sweep": lambda b: [f"betas=[{b}]"],
    "metastable-scan": lambda b: [f"beta_min={b / 10}", f"beta_max={b}"],
    "store": lambda b: [f"beta={b}"],
}


@pytest.mark.parametrize("beta", [1e-6, 1e6])
@pytest.mark.parametrize("command", COMMANDS)
def test_extreme_beta(tmp_path, command, beta):
    result = invoke(command, *SMALL[command], *BETAS[command](beta), run_dir=tmp_path / "r")
    assert_ok(result)
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("warning:")]
    if beta == 1e6 and command == "retrieve":
        assert any("one-hot" in ln for ln in warnings), result.stderr
    if command != "store":
        assert_finite_tables(tmp_path / "r")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_is_refused_on_cpu(tmp_path, command, dtype):
    result = invoke(command, *SMALL[command], f"dtype={dtype}", "device=cpu", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "dtype", "CUDA only")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", ["retrieve", "metastable-scan"])
def test_float64_runs_and_is_finite(tmp_path, command):
    result = invoke(command, *SMALL[command], "dtype=float64", run_dir=tmp_path / "r")
    assert_ok(result)
    assert_finite_tables(tmp_path / "r")


def test_store_summary_is_strict_json_for_one_pattern(tmp_path):
    import json

    path = _file(tmp_path, "one", np.ones((1, 4)))
    assert_ok(invoke("store", "patterns=file", f"patterns.path={path}", run_dir=tmp_path / "r"))
    text = (tmp_path / "r" / "summary.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
