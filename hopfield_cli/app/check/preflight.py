"""Check a composed config once, before any work: keys, values, files, device and memory.

``checked`` turns the composed DictConfig into the command's typed schema (dataclass instances: what the
experiments receive), refusing keys no schema has (``+typo=1`` composes otherwise), then applies the value
checks of the schema and the checks of ``app/checks``. ``check_sweep`` does the same for every combination of
a multirun's sweep values before any job starts, and refuses the sweep naming the bad combination.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import itertools
import os
from collections.abc import Iterator
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from hopfield_cli.app.check import checks
from hopfield_cli.app.check.compose import _unknown_key, compose, composition_errors, missing_plugin
from hopfield_cli.app.commands import Command
from hopfield_cli.errors import UsageError

# Sweeps with more combinations than this are checked value by value (each value with the others' first).
MAX_CHECKED_COMBINATIONS = 256
# Groups whose options may be chosen several at once (logger=[csv,mlflow]).
MULTI_OPTION_GROUPS = ("logger",)
# Hydra's override parser and OmegaConf recurse a few frames per [ or {: ~100 levels exhaust Python's stack.
MAX_NESTING = 32


def parse_hydra_args(args: list[str]) -> argparse.Namespace:
    """Parse Hydra's own flags (-m, --cfg, -cd, ...) the way Hydra will; overrides stay in ``.overrides``."""
    from hydra._internal.utils import get_args_parser

    try:
        return get_args_parser().parse_args(args)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        raise SystemExit(2) from exc


CONFIG_PATH_FLAGS = ("-cp", "--config-path")


def config_path_as_dir(args: list[str], parsed: argparse.Namespace, config_name: str) -> list[str]:
    """``-cp DIR`` (``--config-path``), Hydra's primary config folder, taken as ``-cd DIR``: hopfield's own
    configs stay on the search path (a user's config extends one of them) and DIR is searched first. Hydra
    itself ignored it in a run and ended ``--cfg``/``--hydra-help`` with its own message; a folder that does not
    exist or holds no ``NAME.yaml`` for the config named (``-cn NAME``, else the command's) is refused in one
    line. Returns ``args`` with the flag rewritten as ``-cd DIR``."""
    if parsed.config_path is None:
        return args
    folder = os.path.abspath(os.path.expanduser(parsed.config_path))
    name = parsed.config_name or config_name
    usage = (
        "-cp DIR is the folder of your own config NAME.yaml, named with -cn NAME; hopfield's own need no -cp"
    )
    if not os.path.isdir(folder):
        raise UsageError("--config-path", f"folder not found: {folder}; {usage}")
    if parsed.config_dir is not None and os.path.abspath(os.path.expanduser(parsed.config_dir)) != folder:
        raise UsageError(
            "--config-path",
            "give one folder of your configs: -cd DIR (-cp DIR means the same here), not both",
        )
    if not os.path.isfile(os.path.join(folder, f"{name}.yaml")):
        mine = sorted(n[:-5] for n in os.listdir(folder) if n.endswith(".yaml"))
        if not mine:
            raise UsageError("--config-path", f"{folder} holds no .yaml config; {usage}")
        raise UsageError(
            "--config-path",
            f"{folder} holds no {name}.yaml; allowed: -cn with one of its configs ({', '.join(mine[:8])}), "
            "or no -cp for hopfield's own configs",
        )
    out, rest = [], iter(args)
    for arg in rest:
        flag, eq, value = arg.partition("=")
        if flag in CONFIG_PATH_FLAGS or (len(flag) >= len("--config-p") and "--config-path".startswith(flag)):
            if not eq:
                next(rest, None)
            continue
        out.append(arg)
    out = ["-cd", folder, *out]
    if parse_hydra_args(out).config_path is not None:  # a spelling argparse takes but this loop does not
        raise UsageError("--config-path", f"write it as -cp DIR or --config-path=DIR; {usage}")
    return out


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


@contextlib.contextmanager
def hydra_resolvable(cfg: DictConfig) -> Iterator[None]:
    """While the config is checked, ``${hydra:...}`` resolves as it will in the run: Hydra's config is set
    (``runtime.output_dir`` being the run folder, unless the job's config already holds it). ``out=${hydra:runtime.output_dir}/
    m.safetensors``, Hydra's idiom for a file in the run folder, was refused as "HydraConfig was not set"."""
    from hydra.core.hydra_config import HydraConfig

    if "hydra" not in cfg:
        yield
        return
    staged = copy.deepcopy(cfg)
    with open_dict(staged):
        for key in ("hydra.run.dir", "hydra.sweep.dir"):
            try:
                folder = OmegaConf.select(staged, key, throw_on_resolution_failure=True)
            except Exception:  # noqa: BLE001 - an interpolation only a job can resolve (${hydra.job.num})
                folder = None
            if folder and not OmegaConf.select(staged, "hydra.runtime.output_dir", default=None):
                staged.hydra.runtime.output_dir = os.path.abspath(os.path.expanduser(str(folder)))
    instance = HydraConfig.instance()
    previous = instance.cfg
    instance.set_config(staged)
    try:
        yield
    finally:
        instance.cfg = previous


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
        with hydra_resolvable(cfg):
            typed = OmegaConf.to_object(task)
    except Exception as exc:  # noqa: BLE001 - an interpolation or value OmegaConf could not build
        from hopfield_cli.app.check.compose import describe_error

        raise describe_error(exc) from None
    hydra_node: Any = cfg.hydra if "hydra" in cfg else None
    if hydra_node is None:  # a multirun job's config: Hydra holds its hydra node apart
        from hydra.core.hydra_config import HydraConfig

        hydra_node = HydraConfig.get() if HydraConfig.initialized() else None
    if hydra_node is not None and OmegaConf.select(hydra_node, "job.chdir", default=False):
        launched_from(typed, OmegaConf.select(hydra_node, "runtime.cwd", default=None) or os.getcwd())
    checks.check_typed(command, typed)
    from hopfield_cli.app.run.trackers import check_available

    check_available(typed)  # logger=mlflow without its extra: one line naming it
    return typed


def launched_from(typed: Any, cwd: str) -> None:
    """With ``hydra.job.chdir=true`` the run works in its run folder: a relative path the user gave means the
    folder they launched from, so it is made absolute against it before the run changes folder."""
    from hopfield_cli.app.run.run_folder import PATH_FIELDS

    for dotted in PATH_FIELDS:
        *parents, leaf = dotted.split(".")
        owner = typed
        for part in parents:
            owner = getattr(owner, part, None)
        value = getattr(owner, leaf, None) if owner is not None else None
        if isinstance(value, str) and value and not os.path.isabs(os.path.expanduser(value)):
            setattr(owner, leaf, os.path.join(cwd, value))


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

    from hopfield_cli.app.check.compose import config_dir

    dirs = [config_dir()] + ([os.path.abspath(extra_dir)] if extra_dir else [])
    for ov in OverridesParser.create().parse_overrides(overrides=overrides):
        group = ov.key_or_group
        if ov.is_delete() or not any(os.path.isdir(os.path.join(d, group)) for d in dirs):
            continue
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.value()]
        if group in MULTI_OPTION_GROUPS and values and isinstance(values[0], list):
            values = values[0]  # logger=[csv,mlflow]: several options of one group at once
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
            values = _interval_ends(ov) or list(ov.sweep_string_iterator())
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


def _interval_ends(ov: Any) -> list[str] | None:
    """An Optuna search interval (``beta=interval(0.5,16)``) is checked at its two ends; None otherwise."""
    from hydra.core.override_parser.types import IntervalSweep

    value = ov.value()
    if not isinstance(value, IntervalSweep):
        return None
    return [f"{end:g}" if isinstance(end, float) else str(end) for end in (value.start, value.end)]


def _plain_values(swept: list[str], composed: DictConfig, known: dict[str, Any] | None = None) -> list | None:
    """The parsed overrides when each sets a value of the task config (``seed=3``, ``model.beta=2``): not a
    config group, not Hydra's own node, no ``+``/``++``/``~``/``@``; else None. ``known``: overrides already
    parsed, by their text (``swept_values``), so a sweep of 20,001 values is not parsed again value by value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import OverrideType

    groups = set(OmegaConf.select(composed, "hydra.runtime.choices", default={}) or {})
    if known is not None and all(o in known for o in swept):
        parsed = [known[o] for o in swept]
    else:
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


class _Values:
    """Jobs that differ from a first composition only in values: one task-only copy of it on which each job's
    values are set in turn (every job sets all the swept keys), converted by the schema's node types, then
    set on a copy of the first job's typed config and checked. No deepcopy of a whole config per job: a sweep
    of 20,001 betas checks in seconds (it took over 5 minutes)."""

    def __init__(self, command: Command, composed: DictConfig, typed: Any):
        self.command, self.typed = command, typed
        self.work = copy.deepcopy(composed)
        with open_dict(self.work):
            del self.work["hydra"]
        # Another field interpolating a swept one would change with it: those configs are checked whole.
        self.plain = "${" not in OmegaConf.to_yaml(self.work)

    def check(self, parsed: list) -> None:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        with composition_errors():
            ConfigLoaderImpl._apply_overrides_to_config(parsed, self.work)
        typed = copy.deepcopy(self.typed)
        for ov in parsed:
            node = OmegaConf.select(self.work, ov.key_or_group)
            value = OmegaConf.to_object(node) if isinstance(node, (DictConfig, ListConfig)) else node
            *parents, leaf = ov.key_or_group.split(".")
            owner = typed
            for part in parents:
                owner = getattr(owner, part)
            setattr(owner, leaf, value)
        checks.check_typed(self.command, typed)


def check_sweep(hydra: Any, command: Command, config_name: str, overrides: list[str]) -> None:
    """Compose and check every combination of the sweep before any job runs.

    Jobs whose swept overrides only set values share one composition (each costs ~75 ms of Hydra's time, so a
    sweep of 256 seeds took 20 s to check): every job sets all the swept keys, so each is that composition with
    its own values set (``_Values``). A swept config group (``model=modern,dense``) composes each job."""
    from hopfield_cli.core.budget import memory_pinned

    with memory_pinned():
        _check_combinations(hydra, command, config_name, overrides)


def swept_values(overrides: list[str]) -> dict[str, Any]:
    """``key=value`` (as ``sweep_combinations`` writes it) -> its parsed override, for every swept value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Override, OverrideType, ValueType

    known: dict[str, Any] = {}
    for ov in OverridesParser.create().parse_overrides(overrides=overrides):
        if not ov.is_sweep_override() or ov.type != OverrideType.CHANGE or _interval_ends(ov) is not None:
            continue
        key = ov.get_key_element()
        for text, value in zip(ov.sweep_string_iterator(), ov.sweep_iterator(), strict=True):
            line = f"{key}={text}"
            known[line] = Override(
                type=OverrideType.CHANGE,
                key_or_group=ov.key_or_group,
                value_type=ValueType.ELEMENT,
                _value=value,
                package=ov.package,
                input_line=line,
            )
    return known


def _check_combinations(hydra: Any, command: Command, config_name: str, overrides: list[str]) -> None:
    first: DictConfig | None = None
    values: _Values | None = None
    known = swept_values(overrides)
    for combination in sweep_combinations(overrides):
        swept = [o for o in combination if o not in overrides]
        parsed = _plain_values(swept, first, known) if first is not None else None
        try:
            if parsed is not None and values is not None and values.plain:
                values.check(parsed)
                continue
            cfg = (
                _with_values(first, parsed)
                if parsed is not None
                else compose(hydra, config_name, combination)
            )
            typed = checked(command, cfg)
            if first is None:
                first, values = cfg, _Values(command, cfg, typed)
        except UsageError as error:
            raise UsageError(error.field, f"{error.message} (in the sweep job {' '.join(swept)})") from None
