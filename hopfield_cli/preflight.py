"""Compose and validate a subcommand's config BEFORE Hydra runs it.

Hydra reports composition errors as several lines with exit status 1, and only after creating the run
folder. Composing once here with the same search path and overrides lets every usage error end as one
line naming the field, with exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import warnings

from hydra._internal.utils import create_automatic_config_search_path, get_args_parser
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    MissingConfigException,
    OverrideParseException,
)
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from hopfield_cli.config import register_configs, validate
from hopfield_cli.errors import UsageError

# Launcher configs (ours in conf/hydra/launcher/ and the plugins' own) -> the pip package that provides them.
LAUNCHER_PLUGINS = {
    "joblib": "hydra-joblib-launcher",
    "slurm": "hydra-submitit-launcher",
    "submitit_slurm": "hydra-submitit-launcher",
    "submitit_local": "hydra-submitit-launcher",
}
# Our joblib.yaml and submitit_local.yaml have the names of the plugins' own configs, so Hydra 1.3 merges each
# onto the plugin's dataclass ("automatic schema matching": typed fields, the plugin's defaults) and warns
# that this is deprecated. It is what we want; the warning is silenced for these two files only.
SCHEMA_MATCH_WARNING = r"\s*'hydra/launcher/(joblib|submitit_local)' is validated against ConfigStore schema"


def quiet_launcher_schema_warning() -> None:
    warnings.filterwarnings("ignore", message=SCHEMA_MATCH_WARNING, category=UserWarning)


# Sweeps larger than this are validated on their first values only (each value costs one composition).
MAX_VALIDATED_SWEEP_VALUES = 64


def parse_hydra_args(args: list[str]) -> argparse.Namespace:
    """Parse Hydra's own flags (-m, --cfg, -cd, ...) the way Hydra will; overrides stay in ``.overrides``."""
    parser = get_args_parser()
    try:
        return parser.parse_args(args)
    except SystemExit as exc:  # argparse already printed its one-line usage error
        raise SystemExit(2) from exc


def _compose(
    config_dir: str,
    config_name: str,
    extra_dir: str | None,
    overrides: list[str],
    multirun: bool = False,
    check_output: bool = False,
) -> DictConfig:
    from hydra._internal.hydra import Hydra
    from hydra.core.config_search_path import SearchPathQuery

    search_path = create_automatic_config_search_path(None, None, config_dir)
    if extra_dir is not None:
        abs_dir = os.path.abspath(extra_dir)
        if not os.path.isdir(abs_dir):
            raise UsageError("--config-dir", f"folder not found: {abs_dir}")
        search_path.prepend(
            provider="command-line", path=f"file://{abs_dir}", anchor=SearchPathQuery(provider="schema")
        )
    GlobalHydra.instance().clear()
    try:
        hydra = Hydra.create_main_hydra2(task_name="preflight", config_search_path=search_path)
        cfg = hydra.compose_config(
            config_name=config_name, overrides=overrides, run_mode=RunMode.RUN, with_log_configuration=False
        )
    finally:
        GlobalHydra.instance().clear()
    check_launcher(cfg)
    if check_output:
        _check_output_folder(cfg, multirun)
    with_hydra = cfg
    cfg = OmegaConf.masked_copy(with_hydra, [k for k in with_hydra if k != "hydra"])
    return cfg


def _check_output_folder(cfg: DictConfig, multirun: bool) -> None:
    """The run (or sweep) folder Hydra will create must be creatable: not under a file, not read-only."""
    from hopfield_cli.config import check_creatable

    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    try:
        folder = OmegaConf.select(cfg, key, throw_on_resolution_failure=True)
    except OmegaConfBaseException:
        return  # an interpolation only Hydra can resolve at run time
    if folder:
        check_creatable(folder, key)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _missing_plugin(group: str, wanted: str) -> UsageError | None:
    """A launcher whose plugin is not installed: say what to install (the ``cluster`` extra)."""
    package = LAUNCHER_PLUGINS.get(wanted)
    if group != "hydra/launcher" or package is None:
        return None
    return UsageError(
        "hydra/launcher",
        f"'{wanted}' needs {package}, which is not installed: pip install 'hopfield-cli[cluster]'",
    )


def check_launcher(cfg: DictConfig) -> None:
    """Refuse a launcher whose plugin is not importable (our launcher files name the plugin's class)."""
    target = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
    if not target.startswith("hydra_plugins."):
        return
    package = target.split(".")[1]
    if importlib.util.find_spec(f"hydra_plugins.{package}") is not None:
        return
    choice = str(OmegaConf.select(cfg, "hydra.runtime.choices", default={}).get("hydra/launcher", "?"))
    error = _missing_plugin("hydra/launcher", choice)
    raise error or UsageError(
        "hydra/launcher", f"'{choice}' needs the plugin {package}, which is not installed"
    )


def describe_error(exc: BaseException) -> UsageError:
    """Turn a Hydra/OmegaConf composition error into a one-line UsageError naming the field."""
    if isinstance(exc, UsageError):
        return exc
    if isinstance(exc, MissingConfigException):
        missing = str(exc.missing_cfg_file or "")
        group = missing.rsplit("/", 1)[0] if "/" in missing else ""
        plugin = _missing_plugin(group, missing.rsplit("/", 1)[-1])
        if plugin is not None:
            return plugin
        options = sorted(exc.options or [])
        options = [o for o in options if not o.endswith("_schema")]
        if group and options:
            wanted = missing.rsplit("/", 1)[1]
            return UsageError(group, f"unknown option '{wanted}'; allowed: {', '.join(options)}")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "config not found"
        return UsageError("config", first)
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, OmegaConfBaseException):
        key = getattr(cause, "full_key", None) or "config"
        msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if "not in" in msg and "Key" in msg:
            return UsageError(key, "unknown key; run with --help to list the fields")
        if "could not be converted to" in msg:
            wanted = msg.rsplit("could not be converted to", 1)[1].strip(" .").lower()
            got = msg.split("'")[1] if msg.count("'") >= 2 else "?"
            article = "an" if wanted[:1] in "aeiou" else "a"
            return UsageError(key, f"must be {article} {wanted}, got '{got}'")
        return UsageError(key, _one_line(msg))
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    if "Could not override" in text or "Could not append" in text:
        # e.g. "Could not override 'foo'." followed by "Key 'foo' is not in struct"
        key = text.split("'")[1] if "'" in text else "config"
        if any("+" in ln and "append" in ln for ln in lines):
            return UsageError(key, "unknown key; run with --help to list the fields")
        return UsageError(key, _one_line(lines[-1]))
    return UsageError("overrides", _one_line(" ".join(lines[:2])))


def _check_group_values(config_dir: str, extra_dir: str | None, overrides: list[str]) -> None:
    """A config group (patterns=, model=, ...) takes an option name; Hydra fails with a TypeError on a list or a
    number (``patterns=[0]``), so such a value is refused here, naming the group."""
    dirs = [config_dir] + ([os.path.abspath(extra_dir)] if extra_dir else [])
    for ov in OverridesParser.create().parse_overrides(overrides=overrides):
        group = ov.key_or_group
        if not any(os.path.isdir(os.path.join(d, group)) for d in dirs) or ov.is_delete():
            continue
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.value()]
        for value in values:
            if not isinstance(value, str) or not value:
                raise UsageError(
                    group,
                    f"takes the name of one option (e.g. {group}=<name>), got {ov.get_value_element_as_str()!r}",
                )


def _sweep_variants(overrides: list[str]) -> list[list[str]]:
    """Expand sweep overrides (beta=1,4,16) into single-valued override lists to validate.

    Each sweep value is validated once, paired with the first value of every other sweep.
    """
    parsed = OverridesParser.create().parse_overrides(overrides=overrides)
    fixed: list[str] = []
    sweeps: list[tuple[str, list[str]]] = []
    for ov in parsed:
        if ov.is_sweep_override():
            values = list(itertools.islice(ov.sweep_string_iterator(), MAX_VALIDATED_SWEEP_VALUES))
            if not values:
                raise UsageError(ov.get_key_element(), "sweep has no values")
            sweeps.append((ov.get_key_element(), values))
        else:
            fixed.append(ov.input_line)
    if not sweeps:
        return [fixed]
    firsts = [f"{key}={values[0]}" for key, values in sweeps]
    variants = [fixed + firsts]
    for i, (key, values) in enumerate(sweeps):
        for value in values[1:]:
            others = firsts[:i] + firsts[i + 1 :]
            variants.append(fixed + others + [f"{key}={value}"])
    return variants


def preflight(command: str, config_dir: str, args: argparse.Namespace) -> DictConfig:
    """Compose (and, for runs, validate) every variant of the command line; return the first config.

    Raises UsageError for anything the user must fix.
    """
    register_configs()
    config_name = args.config_name or command.replace("-", "_")
    if args.multirun and args.cfg:
        raise UsageError("--cfg", "cannot be combined with -m/--multirun; drop -m to print the config")
    try:
        _check_group_values(config_dir, args.config_dir, list(args.overrides))
        variants = _sweep_variants(list(args.overrides)) if args.multirun else [list(args.overrides)]
    except OverrideParseException as exc:
        raise UsageError("overrides", _one_line(str(exc).splitlines()[0])) from None
    first: DictConfig | None = None
    for overrides in variants:
        try:
            cfg = _compose(
                config_dir,
                config_name,
                args.config_dir,
                overrides,
                multirun=bool(args.multirun),
                check_output=not args.cfg and not args.info,
            )
        except (ConfigCompositionException, HydraException, OmegaConfBaseException, ValueError) as exc:
            raise describe_error(exc) from None
        except (TypeError, KeyError, AttributeError, IndexError) as exc:  # Hydra internals on odd overrides
            raise UsageError(
                "overrides", f"cannot compose the config ({type(exc).__name__}: {exc})"
            ) from None
        if not args.cfg and not args.info:
            validate(command, cfg)
        first = first if first is not None else cfg
    assert first is not None
    return first
