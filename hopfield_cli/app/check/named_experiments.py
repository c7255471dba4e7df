"""Named experiments (``conf/experiment/<name>.yaml``, ``# @package _global_``): which command each is for.

Each file starts with ``# @package _global_`` (Hydra reads a header only from the first lines), then
``# <command>: <one-line description>``; that line is the single source of the
experiment's command and of what ``--help`` shows. An experiment made for another command is refused before
composition in one line naming ``experiment`` and its command (Hydra would otherwise report whichever key of
the experiment the command's schema lacks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hopfield_cli.errors import UsageError

GROUP = "experiment"


@dataclass(frozen=True)
class NamedExperiment:
    name: str
    command: str  # the subcommand it is made for, e.g. "capacity-sweep"
    description: str


def read_header(path: Path) -> NamedExperiment:
    """``# <command>: <description>``: the first comment line of an experiment file after its header."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("#")]
    first = next((ln for ln in lines if not ln.lstrip("# ").startswith("@")), "")
    command, _, description = first.lstrip("#").strip().partition(":")
    return NamedExperiment(path.stem, command.strip(), description.strip())


def named_experiments(extra_dir: str | None = None) -> dict[str, NamedExperiment]:
    """Every experiment in our ``conf/experiment/`` (and a ``-cd DIR``'s, which takes precedence)."""
    from hopfield_cli.app.check.compose import config_dir
    from hopfield_cli.app.check.config_files import check_config_file

    found: dict[str, NamedExperiment] = {}
    for folder in (config_dir(), extra_dir):
        if folder is None:
            continue
        for path in sorted((Path(folder) / GROUP).glob("*.yaml")):
            if folder is extra_dir:  # the user's: one line naming the file and line, never a traceback
                check_config_file(path, f"{GROUP}/{path.stem}", config_dir())
            found[path.stem] = read_header(path)
    return found


def for_command(command: str) -> list[NamedExperiment]:
    """The experiments made for ``command`` (for ``--help``)."""
    return [e for e in named_experiments().values() if e.command == command]


def check_experiment(command: str, overrides: list[str], extra_dir: str | None = None) -> None:
    """Refuse ``experiment=NAME`` (or a sweep of names) when NAME is made for another command."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    known: dict[str, NamedExperiment] | None = None
    for ov in OverridesParser.create().parse_overrides(overrides=overrides):
        if ov.key_or_group != GROUP or ov.is_delete():
            continue
        known = named_experiments(extra_dir) if known is None else known  # read only when one is asked for
        values = list(ov.sweep_string_iterator()) if ov.is_sweep_override() else [ov.value()]
        for value in values:
            found = known.get(str(value))
            if found is None or found.command in ("", command):
                continue  # unknown names: Hydra's own error (with the allowed options) says it
            raise UsageError(
                GROUP,
                f"'{value}' is an experiment of `hopfield {found.command}`, not of `hopfield {command}`: "
                f"run hopfield {found.command} experiment={value}",
            )
