"""Compose a command's config with Hydra's own loader, and turn composition errors into one line.

Hydra reports composition errors in several lines with exit status 1. Composing here, with the search path
and overrides Hydra would use, lets every such error end as ``error: <field>: <what is allowed>`` (exit 2)
before any folder is made; and a single run uses this very composition (``launch``), so it is composed once.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

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
    here = Path(__file__).resolve().parent.parent
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

    from hopfield_cli.app.config_files import guard_file_sources

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
def composition_errors() -> Iterator[None]:
    """Hydra's and OmegaConf's errors while composing or overriding a config, as one UsageError naming the field."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        yield
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise describe_error(exc) from None
    except (TypeError, KeyError, AttributeError, IndexError) as exc:  # Hydra internals on odd overrides
        raise UsageError("overrides", f"cannot compose the config ({type(exc).__name__}: {exc})") from None


def compose(hydra: Any, config_name: str, overrides: list[str], *, multirun: bool = False) -> DictConfig:
    """The composed config (with its ``hydra`` node), or a UsageError naming the field."""
    from hydra.types import RunMode

    mode = RunMode.MULTIRUN if multirun else RunMode.RUN
    with composition_errors():
        return hydra.compose_config(
            config_name=config_name, overrides=list(overrides), run_mode=mode, with_log_configuration=True
        )


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


def describe_error(exc: BaseException) -> UsageError:
    """Turn a Hydra/OmegaConf composition error into a one-line UsageError naming the field."""
    from hydra.errors import MissingConfigException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(exc, UsageError):
        return exc
    if isinstance(exc.__cause__, UsageError):  # a config file's check (config_files), raised inside Hydra
        return exc.__cause__
    if isinstance(exc, MissingConfigException):
        missing = str(exc.missing_cfg_file or "")
        group, _, wanted = missing.rpartition("/")
        if group == "hydra/launcher" and missing_plugin(wanted) is not None:
            return missing_plugin(wanted)  # type: ignore[return-value]
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
        return UsageError("config", _one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else exc))
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, OmegaConfBaseException):
        key = str(getattr(cause, "full_key", None) or "config")
        msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        if "not in" in msg and "Key" in msg:
            owner = msg.rsplit("'", 2)[-2] if msg.count("'") >= 4 else ""
            return _unknown_key(key, owner, _schema_fields(owner))
        if "could not be converted to" in msg:
            wanted = msg.rsplit("could not be converted to", 1)[1].strip(" .").lower()
            got = msg.split("'")[1] if msg.count("'") >= 2 else "?"
            article = "an" if wanted[:1] in "aeiou" else "a"
            return UsageError(key, f"must be {article} {wanted}, got '{got}'")
        return UsageError(key, _one_line(msg))
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    text = lines[0] if lines else type(exc).__name__
    if "Could not override" in text or "Could not append" in text:
        key = text.split("'")[1] if "'" in text else "config"
        if "No match in the defaults list" in text:
            return UsageError(
                key, "is not a config group of this command; run with --help to list the groups"
            )
        if any("+" in ln and "append" in ln for ln in lines):
            return UsageError(key, "unknown key; run with --help to list the fields")
        return UsageError(key, _one_line(lines[-1]))
    if "ConfigKeyError raised while composing" in text and text.startswith("In '"):
        group = text[4:].split("/", 1)[0]
        return UsageError(group, "is not a config group of this command; run with --help to list the groups")
    return UsageError("overrides", _one_line(" ".join(lines[:2])))
