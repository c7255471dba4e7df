"""Compose a command's config with Hydra's own loader, and turn composition errors into one line.

Hydra reports composition errors in several lines with exit status 1. Composing here, with the search path
and overrides Hydra would use, lets every such error end as ``error: <field>: <what is allowed>`` (exit 2)
before any folder is made; and a single run uses this very composition (``launch``), so it is composed once.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hopfield_cli.config import register_configs
from hopfield_cli.config.options import GROUPS
from hopfield_cli.errors import UsageError

# Launcher options -> the pip package that provides their plugin (the `cluster` extra).
LAUNCHER_PLUGINS = {
    "joblib": "hydra-joblib-launcher",
    "slurm": "hydra-submitit-launcher",
    "submitit_slurm": "hydra-submitit-launcher",
    "submitit_local": "hydra-submitit-launcher",
}
# Our joblib.yaml and submitit_local.yaml have the names of the plugins' own configs, so Hydra merges each
# onto the plugin's dataclass and warns that this "automatic schema matching" is deprecated. It is what we
# want; the warning is silenced for these two files only.
SCHEMA_MATCH_WARNING = r"\s*'hydra/launcher/(joblib|submitit_local)' is validated against ConfigStore schema"
# Schema class name -> (group, option), to name the option whose schema lacks a key.
_OPTION_OF = {cls.__name__: (group, option) for group, opts in GROUPS.items() for option, cls in opts.items()}


# torch.load(weights_only=True) warns about a pickle protocol before refusing a pickle that is no tensor file;
# the refusal is one line of its own, so the warning would only put a second one (and torch's source) before it.
PICKLE_PROTOCOL_WARNING = r"Detected pickle protocol \d+ in the checkpoint"


def quiet_launcher_schema_warning() -> None:
    """Silence the warnings that say nothing to a user: the two above."""
    import warnings

    warnings.filterwarnings("ignore", message=SCHEMA_MATCH_WARNING, category=UserWarning)
    warnings.filterwarnings("ignore", message=PICKLE_PROTOCOL_WARNING, category=UserWarning)


def config_dir() -> str:
    """The folder of primary configs: inside the installed package, else the checkout's top-level conf/."""
    here = Path(__file__).resolve().parents[2]  # the package folder (hopfield_cli/)
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "store.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"hopfield configs not found next to {here}")


def create_hydra(extra_dir: str | None) -> Any:
    """Hydra's main object over our configs (plus ``-cd DIR`` in front, as hydra.main would)."""
    from hydra import version
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    from hopfield_cli.app.check.config_files import guard_file_sources

    version.setbase("1.3")
    register_configs()
    quiet_launcher_schema_warning()
    search_path = create_automatic_config_search_path(None, None, config_dir())
    if extra_dir is not None:
        folder = os.path.abspath(extra_dir)
        if not os.path.isdir(folder):
            raise UsageError("--config-dir", f"folder not found: {folder}")
        search_path.prepend(
            provider="command-line", path=f"file://{folder}", anchor=SearchPathQuery(provider="schema")
        )
    GlobalHydra.instance().clear()
    hydra = Hydra.create_main_hydra2(task_name="hopfield", config_search_path=search_path)
    # After Hydra's plugin scan, which loads its config source modules afresh: a user's YAML file is checked
    # before Hydra parses it (one line naming the file and line).
    guard_file_sources(config_dir())
    return hydra


def check_shadowing(extra_dir: str | None, config_name: str) -> None:
    """A user's primary config named like a packaged one (``-cd mydir -cn retrieve``) would be silently
    replaced by the package's (the package's folder is searched first): refuse it with the way out."""
    if extra_dir is None:
        return
    mine = Path(os.path.abspath(extra_dir)) / f"{config_name}.yaml"
    if mine.is_file() and (Path(config_dir()) / f"{config_name}.yaml").is_file():
        raise UsageError(
            "--config-name",
            f"{mine} has the name of hopfield's own config '{config_name}', which would be used instead; "
            f"rename it (e.g. my_{config_name}.yaml, starting with `defaults: [{config_name}, _self_]`) and "
            f"run with -cn my_{config_name}",
        )


@contextmanager
def composition_errors(diagnose: Callable[[], UsageError | None] | None = None) -> Iterator[None]:
    """Hydra's and OmegaConf's errors while composing or overriding a config, as one UsageError naming the
    field. ``diagnose`` names the override at fault when Hydra's error carries no key (see ``describe_error``)."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise describe_error(exc, diagnose) from None
    except (TypeError, KeyError, AttributeError, IndexError) as exc:  # Hydra internals on odd overrides
        raise UsageError("overrides", f"cannot compose the config ({type(exc).__name__}: {exc})") from None


def compose(hydra: Any, config_name: str, overrides: list[str], *, multirun: bool = False) -> DictConfig:
    """The composed config (with its ``hydra`` node), or a UsageError naming the field."""
    from hydra.types import RunMode

    mode = RunMode.MULTIRUN if multirun else RunMode.RUN
    with composition_errors(lambda: misplaced_override(hydra, config_name, overrides)):
        return hydra.compose_config(
            config_name=config_name, overrides=list(overrides), run_mode=mode, with_log_configuration=True
        )


def misplaced_override(hydra: Any, config_name: str, overrides: list[str]) -> UsageError | None:
    """The override that Hydra's defaults list refused, found from the config as composed without overrides.

    Hydra refuses these with a ConfigCompositionException that names no key in its attributes (or names the
    group as an unknown key): ``[+]group=option`` for a group this command does not have, ``+group=option``
    for a group it has, and ``+key=value`` for a key it has. None when no override is one of them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    try:
        parsed = OverridesParser.create().parse_overrides(overrides=list(overrides))
        groups = {o.key_or_group: bool(hydra.config_loader.get_group_options(o.key_or_group)) for o in parsed}
        suspects = [o for o in parsed if o.is_add() or groups[o.key_or_group]]
        if not suspects:  # a plain key=value: the OmegaConf cause names it (no second composition)
            return None
        base = hydra.compose_config(config_name=config_name, overrides=[], run_mode=RunMode.RUN)
    except Exception:  # noqa: BLE001 - the overrides or the config itself are at fault: the caller says so
        return None
    chosen = set(base.hydra.runtime.choices)
    for override in suspects:
        key = override.key_or_group
        is_group = groups[key]
        if is_group and key not in chosen:
            return UsageError(
                key, "is not a config group of this command; run with --help to list the groups"
            )
        if override.is_add() and not override.is_force_add():
            if is_group and key in chosen:
                return UsageError(key, f"is chosen already: write {key}={override.value()} (without the +)")
            if not is_group and OmegaConf.select(base, key, default=None) is not None:
                return UsageError(key, f"is set already: write {key}={override.value()} (without the +)")
    return None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def missing_plugin(wanted: str) -> UsageError | None:
    """A launcher whose plugin is not installed: say what to install."""
    package = LAUNCHER_PLUGINS.get(wanted)
    if package is None:
        return None
    return UsageError(
        "hydra/launcher",
        f"'{wanted}' needs {package}, which is not installed: pip install 'hopfield-cli[cluster]'",
    )


def _unknown_key(key: str, owner: str, known: list[str]) -> UsageError:
    """``key`` is not a field of the schema class ``owner``: name the option and what it has."""
    leaf = key.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(leaf, known, n=1)
    hint = f"; did you mean {key.rsplit('.', 1)[0] + '.' if '.' in key else ''}{close[0]}?" if close else ""
    if owner in _OPTION_OF:
        group, option = _OPTION_OF[owner]
        where = f"{group}={option}" if key.startswith(f"{group}.") else option
        return UsageError(key, f"unknown key for {where} (its fields: {', '.join(known)}){hint}")
    return UsageError(key, f"unknown key{hint or '; run with --help to list the fields'}")


def _schema_fields(owner: str) -> list[str]:
    import dataclasses

    from hopfield_cli.config.commands import COMMAND_SCHEMAS, Families

    classes = {cls.__name__: cls for opts in GROUPS.values() for cls in opts.values()}
    classes.update({cls.__name__: cls for cls in (*COMMAND_SCHEMAS.values(), Families)})
    cls = classes.get(owner)
    return [f.name for f in dataclasses.fields(cls)] if cls is not None else []


# OmegaConf's value nodes -> what a value of the field must be.
_NODE_KINDS = {
    "IntegerNode": "an integer",
    "FloatNode": "a float",
    "BooleanNode": "a boolean (true or false)",
    "StringNode": "a string",
    "BytesNode": "bytes",
    "PathNode": "a path",
}
_ELEMENT_KINDS = {int: "an integer", float: "a float", bool: "a boolean (true or false)", str: "a string"}


def describe_error(exc: BaseException, diagnose: Callable[[], UsageError | None] | None = None) -> UsageError:
    """A Hydra/OmegaConf composition error as a one-line UsageError naming the field.

    Mapped from the exception's type and its key attributes, never from its English text:
    - UsageError (or one raised inside Hydra by a config file's check): itself;
    - hydra MissingConfigException: ``missing_cfg_file`` and ``options`` (an unknown option of a group, or a
      launcher/sweeper whose plugin is missing);
    - omegaconf ConfigKeyError/ConfigAttributeError: ``full_key`` and ``object_type`` (the schema class, which
      names the option and its fields);
    - omegaconf ValidationError: ``full_key``, ``value`` and the type of ``child_node`` (or of the list's
      element type) say what the value must be;
    - omegaconf MissingMandatoryValue: ``full_key``;
    - any other OmegaConf error: ``full_key`` and its first line;
    - hydra ConfigCompositionException: first ``diagnose`` (``misplaced_override``: a group this command does
      not have, a ``+`` on what it has), then its OmegaConf cause as above.
    """
    from hydra.errors import ConfigCompositionException, MissingConfigException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, MissingMandatoryValue, ValidationError

    if isinstance(exc, UsageError):
        return exc
    if isinstance(exc.__cause__, UsageError):  # a config file's check (config_files), raised inside Hydra
        return exc.__cause__
    if isinstance(exc, MissingConfigException):
        return _missing_config(exc)
    if isinstance(exc, ConfigCompositionException) and diagnose is not None:
        found = diagnose()  # an override the defaults list refused, named from the config without overrides
        if found is not None:
            return found
    cause = _omegaconf_cause(exc)
    if cause is not None:
        key = str(getattr(cause, "full_key", None) or "config")
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)):
            owner = getattr(getattr(cause, "object_type", None), "__name__", "")
            return _unknown_key(key, owner, _schema_fields(owner))
        if isinstance(cause, ValidationError):
            kind = _NODE_KINDS.get(type(getattr(cause, "child_node", None)).__name__)
            if kind is None:
                element = getattr(
                    getattr(getattr(cause, "parent_node", None), "_metadata", None), "element_type", None
                )
                kind = _ELEMENT_KINDS.get(element)
            if kind is not None:
                return UsageError(key, f"must be {kind}, got '{getattr(cause, 'value', '?')}'")
        if isinstance(cause, MissingMandatoryValue):
            return UsageError(key, f"has no value: set it with {key}=VALUE")
        return UsageError(key, _first_line(cause))
    return UsageError("overrides", _first_line(exc))


def _omegaconf_cause(exc: BaseException) -> Any:
    """The OmegaConf error behind ``exc`` (itself, or along its chain of causes), None if there is none."""
    from omegaconf.errors import OmegaConfBaseException

    seen: BaseException | None = exc
    for _ in range(8):  # Hydra wraps an OmegaConf error at most a few times
        if seen is None or isinstance(seen, OmegaConfBaseException):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _first_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return _one_line(lines[0]) if lines else type(exc).__name__


def _missing_config(exc: Any) -> UsageError:
    """An option no config file provides (``missing_cfg_file`` is ``group/option``), with what is allowed."""
    missing = str(exc.missing_cfg_file or "")
    group, _, wanted = missing.rpartition("/")
    plugin = missing_plugin(wanted) if group == "hydra/launcher" else None
    if plugin is not None:
        return plugin
    if group == "hydra/sweeper" and wanted == "optuna":
        return UsageError(
            group,
            "'optuna' needs hydra-optuna-sweeper, which is not installed: pip install 'hopfield-cli[search]'",
        )
    options = sorted(o for o in (exc.options or []) if not o.endswith("_schema"))
    if group and options:
        close = difflib.get_close_matches(wanted, options, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        return UsageError(group, f"unknown option '{wanted}'; allowed: {', '.join(options)}{hint}")
    return UsageError("config", f"config not found: {missing or _first_line(exc)}")
