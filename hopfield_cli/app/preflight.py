"""Check a composed config once, before any work: keys, values, files, device and memory.

``checked`` turns the composed DictConfig into the command's typed schema (dataclass instances: what the
experiments receive), refusing keys no schema has (``+typo=1`` composes otherwise), then applies the value
checks of the schema and the checks of ``app/checks``. ``check_sweep`` does the same for every combination of
a multirun's sweep values before any job starts, and refuses the sweep naming the bad combination.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import itertools
import os
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from hopfield_cli.app import checks
from hopfield_cli.app.commands import Command
from hopfield_cli.app.compose import _unknown_key, compose, composition_errors, missing_plugin
from hopfield_cli.errors import UsageError

# Sweeps with more combinations than this are checked value by value (each value with the others' first).
MAX_CHECKED_COMBINATIONS = 256
# Hydra's override parser and OmegaConf recurse a few frames per [ or {: ~100 levels exhaust Python's stack.
MAX_NESTING = 32


def parse_hydra_args(args: list[str]) -> argparse.Namespace:
    """Parse Hydra's own flags (-m, --cfg, -cd, ...) the way Hydra will; overrides stay in ``.overrides``."""
    from hydra._internal.utils import get_args_parser

    try:
        return get_args_parser().parse_args(args)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        raise SystemExit(2) from exc


def _known_keys(node: Any, prefix: str = "") -> None:
    """Refuse keys that the node's schema does not have (``+typo=1`` would silently do nothing)."""
    if not isinstance(node, DictConfig):
        return
    schema = OmegaConf.get_type(node)
    names = [f.name for f in dataclasses.fields(schema)] if dataclasses.is_dataclass(schema) else None
    for key in node.keys():
        if names is not None and key not in names:
            raise _unknown_key(f"{prefix}{key}", schema.__name__, names)
        _known_keys(node._get_node(key), f"{prefix}{key}.")


def not_a_command_config(command: Command, cfg: DictConfig) -> UsageError:
    """A user's primary config (-cn NAME) that does not extend the command's own: say what it must start with."""
    name = OmegaConf.select(cfg, "hydra.job.config_name", default=None) or "the config"
    return UsageError(
        "--config-name",
        f"{name}.yaml is not a `hopfield {command.name}` config: start it with "
        f"`defaults: [{command.config_name}, _self_]` (an example: examples/my_retrieve.yaml)",
    )


def checked(command: Command, cfg: DictConfig) -> Any:
    """The typed config of ``command`` after every check; UsageError naming the field otherwise."""
    task = cfg
    if "hydra" in cfg:
        task = copy.deepcopy(cfg)
        with open_dict(task):
            del task["hydra"]
    if OmegaConf.get_type(task) is not command.schema:
        raise not_a_command_config(command, cfg)
    _known_keys(task)
    try:
        typed = OmegaConf.to_object(task)
    except Exception as exc:  # noqa: BLE001 - an interpolation or value OmegaConf could not build
        from hopfield_cli.app.compose import describe_error

        raise describe_error(exc) from None
    checks.check_typed(command.name, typed)
    return typed


def check_launcher(cfg: DictConfig) -> None:
    """Refuse a launcher whose plugin is not importable (our launcher files name the plugin's class)."""
    import importlib.util

    target = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
    if not target.startswith("hydra_plugins."):
        return
    package = target.split(".")[1]
    if importlib.util.find_spec(f"hydra_plugins.{package}") is not None:
        return
    choice = str(
        (OmegaConf.select(cfg, "hydra.runtime.choices", default={}) or {}).get("hydra/launcher", "?")
    )
    raise missing_plugin(choice) or UsageError(
        "hydra/launcher", f"'{choice}' needs the plugin {package}, which is not installed"
    )


def check_output_folder(cfg: DictConfig, multirun: bool) -> None:
    """The run (or sweep) folder Hydra will create must be creatable: not under a file, not read-only."""
    from omegaconf.errors import OmegaConfBaseException

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    try:
        folder = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except OmegaConfBaseException:
        return  # an interpolation only Hydra can resolve at run time
    if folder:
        checks.creatable(folder, key)


def override_syntax(exc: Exception, overrides: list[str]) -> UsageError:
    """An override Hydra's grammar cannot parse, named by its key, with a hint for unquoted text it refuses."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    text = " ".join(str(exc).splitlines()[0].split()) if str(exc).strip() else type(exc).__name__
    parser = OverridesParser.create()
    for override in overrides:
        try:
            parser.parse_overrides(overrides=[override])
        except Exception:  # noqa: BLE001 - this is the override Hydra refused
            key = override.split("=", 1)[0].lstrip("+~") if "=" in override else ""
            hint = ""
            if not override.isascii() or " " in override.split("=", 1)[-1]:
                hint = f"; quote a value with spaces or non-ASCII letters: {key or 'key'}='...'"
            return UsageError(key or "overrides", f"cannot parse {override!r} ({text}){hint}")
    return UsageError("overrides", text)


def check_nesting(overrides: list[str]) -> None:
    """Refuse a value nested deeper than ``MAX_NESTING`` lists or mappings before Hydra parses it (its parser
    would end in a RecursionError thousands of lines long)."""
    for override in overrides:
        depth = deepest = 0
        for char in override:
            depth += (char in "[{") - (char in "]}")
            deepest = max(deepest, depth)
        if deepest > MAX_NESTING:
            key = override.split("=", 1)[0].lstrip("+~") or "overrides"
            raise UsageError(key, f"is nested {deepest:,} levels deep; at most {MAX_NESTING} are allowed")


def check_group_values(overrides: list[str], extra_dir: str | None) -> None:
    """A config group takes one option name; Hydra fails with a TypeError on a list or a number."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from hopfield_cli.app.compose import config_dir

    dirs = [config_dir()] + ([os.path.abspath(extra_dir)] if extra_dir else [])
    for ov in OverridesParser.create().parse_overrides(overrides=overrides):
        group = ov.key_or_group
        if ov.is_delete() or not any(os.path.isdir(os.path.join(d, group)) for d in dirs):
            continue
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.value()]
        for value in values:
            if not isinstance(value, str) or not value:
                raise UsageError(
                    group,
                    f"takes the name of one option (e.g. {group}=<name>), got {ov.get_value_element_as_str()!r}",
                )


def sweep_combinations(overrides: list[str]) -> list[list[str]]:
    """Single-valued override lists covering a sweep: every combination, or each value once when too many."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    fixed: list[str] = []
    sweeps: list[tuple[str, list[str]]] = []
    for ov in OverridesParser.create().parse_overrides(overrides=overrides):
        if ov.is_sweep_override():
            values = list(ov.sweep_string_iterator())
            if not values:
                raise UsageError(ov.get_key_element(), "sweep has no values")
            sweeps.append((ov.get_key_element(), values))
        else:
            fixed.append(ov.input_line)
    if not sweeps:
        return [fixed]
    count = 1
    for _, values in sweeps:
        count *= len(values)
    if count <= MAX_CHECKED_COMBINATIONS:
        return [
            fixed + [f"{key}={value}" for (key, _), value in zip(sweeps, combo, strict=True)]
            for combo in itertools.product(*(values for _, values in sweeps))
        ]
    firsts = [f"{key}={values[0]}" for key, values in sweeps]
    variants = [fixed + firsts]
    for i, (key, values) in enumerate(sweeps):
        others = firsts[:i] + firsts[i + 1 :]
        variants.extend(fixed + others + [f"{key}={value}"] for value in values[1:])
    return variants


def _plain_values(swept: list[str], composed: DictConfig) -> list | None:
    """The parsed overrides when each sets a value of the task config (``seed=3``, ``model.beta=2``): not a
    config group, not Hydra's own node, no ``+``/``++``/``~``/``@``; else None."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    groups = set(OmegaConf.select(composed, "hydra.runtime.choices", default={}) or {})
    parsed = OverridesParser.create().parse_overrides(overrides=swept)
    for ov in parsed:
        key = ov.key_or_group
        if ov.type != OverrideType.CHANGE or ov.package is not None or key in groups or "/" in key:
            return None
        if key.split(".")[0] == "hydra":
            return None
    return parsed


def _with_values(composed: DictConfig, parsed: list) -> DictConfig:
    """A copy of ``composed`` with value overrides set the way Hydra sets them once the defaults are composed."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    cfg = copy.deepcopy(composed)
    with composition_errors():
        ConfigLoaderImpl._apply_overrides_to_config(parsed, cfg)
    return cfg


def check_sweep(hydra: Any, command: Command, config_name: str, overrides: list[str]) -> None:
    """Compose and check every combination of the sweep before any job runs.

    Jobs whose swept overrides only set values share one composition (each costs ~75 ms of Hydra's time, so a
    sweep of 256 seeds took 20 s to check): every job sets all the swept keys, so each is that composition with
    its own values set on a copy. A swept config group (``model=modern,dense``) composes each job."""
    first: DictConfig | None = None
    for combination in sweep_combinations(overrides):
        swept = [o for o in combination if o not in overrides]
        parsed = _plain_values(swept, first) if first is not None else None
        if parsed is not None:
            cfg = _with_values(first, parsed)
        else:
            cfg = compose(hydra, config_name, combination)
            first = cfg if first is None else first
        try:
            checked(command, cfg)
        except UsageError as error:
            raise UsageError(error.field, f"{error.message} (in the sweep job {' '.join(swept)})") from None
