"""Composition errors are mapped from their exception types and key attributes, never from their text.

Each mapped type of ``compose.describe_error`` gets a case: the real exception Hydra or OmegaConf raises for a
bad override is caught, then composed again with every message in its chain reworded; the one-line error
must not change. A mapping that read the English text would break on the reworded copy.
"""

from __future__ import annotations

import copy

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException
from hydra.types import RunMode
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from hopfield_cli.app.check.compose import create_hydra, describe_error, misplaced_override
from hopfield_cli.app.check.preflight import checked
from hopfield_cli.app.commands import COMMANDS
from hopfield_cli.errors import UsageError

REWORDED = "a message Hydra or OmegaConf might print one day"


def _raised(config_name: str, overrides: list[str]) -> BaseException:
    hydra = create_hydra(None)
    try:
        hydra.compose_config(config_name=config_name, overrides=overrides, run_mode=RunMode.RUN)
    except Exception as exc:  # noqa: BLE001 - the error under test
        return exc
    raise AssertionError(f"{overrides} composed without an error")


def _reworded(exc: BaseException) -> BaseException:
    """A copy of ``exc`` whose every message along the chain of causes reads REWORDED."""
    copied = copy.copy(exc)
    copied.args = (REWORDED,)
    if isinstance(copied, OmegaConfBaseException):
        copied.msg = REWORDED
    behind = exc.__cause__ or exc.__context__
    if behind is not None:
        copied.__cause__ = _reworded(behind)
    return copied


def _mapped(exc: BaseException, overrides: list[str], config_name: str) -> tuple[str, str]:
    hydra = create_hydra(None)
    error = describe_error(exc, lambda: misplaced_override(hydra, config_name, overrides))
    return error.field, error.message


CASES = [
    # (type of the error or of its cause, command config, overrides, field, words of the message)
    (
        ConfigAttributeError,
        "retrieve",
        ["model.n=7"],
        "model.n",
        "unknown key for model=modern (its fields: name)",
    ),
    (ConfigAttributeError, "retrieve", ["dims=abc"], "dims", "did you mean dim?"),
    (ValidationError, "retrieve", ["dim=abc"], "dim", "must be an integer, got 'abc'"),
    (ValidationError, "retrieve", ["beta=x"], "beta", "must be a float, got 'x'"),
    (ValidationError, "capacity_sweep", ["betas=[1,x]"], "betas[1]", "must be a float, got 'x'"),
    (MissingConfigException, "retrieve", ["model=moder"], "model", "allowed: classical, dense"),
    (
        MissingConfigException,
        "retrieve",
        ["hydra/launcher=joblibx"],
        "hydra/launcher",
        "did you mean joblib?",
    ),
    (ConfigCompositionException, "store", ["model=dense"], "model", "is not a config group of this command"),
    (ConfigCompositionException, "capacity_sweep", ["+model=dense"], "model", "is not a config group"),
    (
        ConfigCompositionException,
        "retrieve",
        ["+model=dense"],
        "model",
        "is chosen already: write model=dense",
    ),
    (ConfigCompositionException, "retrieve", ["+beta=3"], "beta", "is set already: write beta=3"),
]


@pytest.mark.parametrize(("kind", "config_name", "overrides", "field", "words"), CASES)
def test_each_mapped_type_names_the_field_whatever_the_wording(kind, config_name, overrides, field, words):
    exc = _raised(config_name, overrides)
    chain = [exc, exc.__cause__]
    assert any(isinstance(e, kind) for e in chain), (
        f"{overrides}: {type(exc).__name__} <- {type(exc.__cause__)}"
    )
    assert _mapped(exc, overrides, config_name) == _mapped(_reworded(exc), overrides, config_name)
    got_field, message = _mapped(_reworded(exc), overrides, config_name)
    assert got_field == field
    assert words in message
    assert REWORDED not in message


def test_an_unknown_key_of_a_user_group_option_is_named_by_its_key(tmp_path):
    """A group option in ``-cd DIR`` with a field its schema lacks: the key, not 'not a config group'."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weird.yaml").write_text("name: modern\nnosuchfield: 3\n")
    hydra = create_hydra(str(tmp_path))
    with pytest.raises(ConfigCompositionException) as raised:
        hydra.compose_config(config_name="retrieve", overrides=["model=weird"], run_mode=RunMode.RUN)
    error = describe_error(_reworded(raised.value))
    assert error.field == "model.nosuchfield" and "unknown key" in error.message


def test_a_key_error_raised_while_converting_is_mapped_by_its_type():
    """``checked`` converts a composed config with OmegaConf.to_object: its errors take the same mapping."""
    hydra = create_hydra(None)
    cfg = hydra.compose_config(config_name="retrieve", overrides=["dim=???"], run_mode=RunMode.RUN)
    with pytest.raises(UsageError) as raised:
        checked(COMMANDS["retrieve"], cfg)
    assert (raised.value.field, raised.value.message) == ("dim", "has no value: set it with dim=VALUE")


def test_an_unmapped_composition_error_is_one_line_under_overrides():
    error = describe_error(ConfigCompositionException("first line\nsecond line"))
    assert (error.field, error.message) == ("overrides", "first line")
    assert isinstance(ConfigKeyError("x"), OmegaConfBaseException)  # the base the mapping walks to
