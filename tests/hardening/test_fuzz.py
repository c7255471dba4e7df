"""Random override strings never end in a traceback: a config is accepted or refused in one line.

The fuzz drives ``app.run.launch``'s own first steps (argument parsing and preflight: Hydra's override grammar,
composition with the typed schemas, validation and the resource checks), in this process, with the run itself
replaced by a stub so that an accepted config costs nothing. The other tests of this folder run real configs.
Inputs the fuzz once found are kept as explicit examples (``seed=${0}``: an interpolation in an override).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hopfield_cli.app.commands import COMMANDS as TABLE
from hopfield_cli.app.run import launch
from hopfield_cli.config.options import GROUPS as OPTIONS

from .conftest import COMMANDS


def schema_keys(schema: type, prefix: str = "") -> list[str]:
    """Every key of a command: its fields, each family's fields, and every option's fields of its groups."""
    keys = []
    for f in dataclasses.fields(schema):
        if f.name in OPTIONS:
            keys += [
                f"{f.name}.{g.name}"
                for option in OPTIONS[f.name].values()
                for g in dataclasses.fields(option)
            ]
        elif f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(f.default_factory()):
            keys += schema_keys(type(f.default_factory()), f"{prefix}{f.name}.")
        else:
            keys.append(f"{prefix}{f.name}")
    return sorted(set(keys))


JUNK = st.one_of(
    st.text(max_size=12),
    st.text(alphabet="[]{}(),=:'\"$\\ %~*@!#^&|<>?-+.eE0123456789abcnulf", max_size=12),
    st.integers(min_value=-(10**15), max_value=10**15).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-5, 10**6), max_size=4).map(lambda v: "[" + ",".join(map(str, v)) + "]"),
    st.sampled_from(
        ["", "null", "None", "true", "[]", "{}", "nan", "-inf", "1e400", "${oops}", "'a'", "0x10", "1_000"]
    ),
)
GROUPS = ["patterns", "model", "corruption", "hydra/launcher"]


def overrides(command: str):
    keys = schema_keys(TABLE[command].schema) + [k for k in GROUPS if command != "store" or k == "patterns"]
    key = st.sampled_from(keys + ["no_such_key", "hydra.run.dir"])
    prefix = st.sampled_from(["", "", "", "+", "~", "++"])
    one = st.builds(lambda p, k, v: f"{p}{k}={v}", prefix, key, JUNK)
    return st.lists(one, min_size=1, max_size=3)


def _run(command: str, args: list[str], tmp_path) -> tuple[int, str]:
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            launch.launch(command, [*args, f"hydra.run.dir={tmp_path}/run"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


@pytest.fixture
def stub_task(monkeypatch):
    """Hydra's own run is replaced: only argument parsing and preflight (the fuzzed part) really happen."""
    monkeypatch.setattr(launch, "run_once", lambda *args: None)
    monkeypatch.setattr(launch, "run_sweep", lambda *args: None)


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.parametrize("command", COMMANDS)
def test_fuzzed_overrides_are_accepted_or_one_clean_line(tmp_path, stub_task, command):
    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(args=overrides(command))
    @example(args=["seed=${0}"])
    @example(args=["dim=${oops}"])
    def check(args):
        code, err = _run(command, args, tmp_path)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code in (0, 2), (args, code, err)
        assert "Traceback" not in err, (args, err)
        if code == 2:
            assert len(lines) == 1 and lines[0].startswith("error: "), (args, err)
        else:
            assert not lines, (args, err)

    check()
