"""Shell completion of ``hopfield <command> ...``: subcommands, Hydra flags, config keys, groups and values.

Typer answers a shell's completion request (``_HOPFIELD_COMPLETE=complete_bash hopfield``) by asking the
command being typed; each subcommand is a ``CompletingCommand`` whose candidates come from its schema, without
importing torch or composing anything:

- ``mo<TAB>`` -> ``model=``, ``models=``; ``model=<TAB>`` -> ``model=classical ...`` (a group's options);
- ``model.<TAB>`` -> the fields of the option already chosen on the line (``model=dense``) or of the default;
- ``success=<TAB>``, ``binarise=<TAB>`` -> the allowed values; ``families.dense.<TAB>`` (capacity-sweep);
- ``-<TAB>`` -> Hydra's flags; ``--cfg <TAB>`` -> job, hydra, all.

``script(shell)`` is what ``hopfield --completion bash`` prints. The bash script passes the line as typed
(bash alone would split ``model=de`` at ``=``) and keeps no space after a key that ends in ``=`` or ``.``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from typer.core import TyperCommand

from hopfield_cli.app.commands import COMMANDS, Command
from hopfield_cli.config.options import GROUPS

FLAGS = ("-m", "--multirun", "--cfg", "--info", "-cd", "--config-dir", "-cn", "--config-name", "-h", "--help")
CFG_VALUES = ("job", "hydra", "all")
HYDRA_KEYS = ("hydra.run.dir=", "hydra.sweep.dir=", "hydra/launcher=")
LAUNCHERS = ("basic", "joblib", "submitit_local", "slurm")

BASH = r"""_hopfield_completion() {
    local line="${COMP_LINE:0:$COMP_POINT}" IFS=$' \t\n' words cword cur head
    read -r -a words <<< "$line"
    cword=${#words[@]}
    if [[ "$line" != *[[:space:]] ]]; then cword=$((cword - 1)); cur="${words[cword]}"; else cur=""; fi
    local IFS=$'\n'
    COMPREPLY=( $(env COMP_WORDS="${words[*]}" COMP_CWORD="$cword" _HOPFIELD_COMPLETE=complete_bash "${words[0]}") )
    head="${cur%"${cur##*[=:]}"}"   # bash replaces only what follows the last = or :
    COMPREPLY=( "${COMPREPLY[@]#"$head"}" )
    if [[ ${#COMPREPLY[@]} -eq 1 && "${COMPREPLY[0]}" == *[=.] ]]; then compopt -o nospace; fi
}
complete -o default -F _hopfield_completion hopfield
"""


def _fields(schema: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(schema)}


def _groups(command: Command) -> list[str]:
    fields = _fields(command.schema)
    return [g for g in GROUPS if g in fields]


def _chosen(command: Command, group: str, previous: list[str]) -> str:
    """The option of ``group`` chosen on the line so far, else the command's default."""
    for word in reversed(previous):
        if word.startswith(f"{group}=") and word.split("=", 1)[1] in GROUPS[group]:
            return word.split("=", 1)[1]
    from hopfield_cli.app.help import group_defaults

    return group_defaults(command).get(group, next(iter(GROUPS[group])))


def _values(field: dataclasses.Field) -> list[str]:
    check = field.metadata.get("check")
    if hasattr(check, "options"):
        return list(check.options)
    if field.type in (bool, "bool"):
        return ["true", "false"]
    return []


def keys(command: Command, previous: list[str]) -> list[str]:
    """Every ``key=`` (and ``group.field=``) the command takes, given the options chosen so far."""
    out = []
    for name in _fields(command.schema):
        if name in GROUPS:
            out.append(f"{name}=")
            option = GROUPS[name][_chosen(command, name, previous)]
            out += [f"{name}.{f}=" for f in _fields(option) if f != "name"]
        elif name == "families":
            for family, schema in GROUPS["model"].items():
                out += [f"families.{family}.{f}=" for f in _fields(schema) if f != "name"]
        else:
            out.append(f"{name}=")
    return [*out, *HYDRA_KEYS]


def values(command: Command, key: str, previous: list[str]) -> list[str]:
    """The allowed values of ``key`` (a group's options, a choice field's choices, true/false)."""
    if key in GROUPS and key in _fields(command.schema):
        return list(GROUPS[key])
    if key == "hydra/launcher":
        return list(LAUNCHERS)
    parts = key.split(".")
    schema: Any = command.schema
    if len(parts) == 2 and parts[0] in GROUPS:
        schema = GROUPS[parts[0]][_chosen(command, parts[0], previous)]
    elif len(parts) == 3 and parts[0] == "families" and parts[1] in GROUPS["model"]:
        schema = GROUPS["model"][parts[1]]
    elif len(parts) != 1:
        return []
    field = _fields(schema).get(parts[-1])
    return _values(field) if field is not None else []


def candidates(command_name: str, previous: list[str], incomplete: str) -> list[str]:
    """What may complete ``incomplete`` after the words ``previous`` of ``hopfield <command_name> ...``."""
    command = COMMANDS[command_name]
    if previous and previous[-1] == "--cfg":
        return [v for v in CFG_VALUES if v.startswith(incomplete)]
    if incomplete.startswith("-"):
        return [f for f in FLAGS if f.startswith(incomplete)]
    if "=" in incomplete:
        key, _, start = incomplete.partition("=")
        plus = "+" if key.startswith("+") else ""
        found = values(command, key.lstrip("+~"), previous)
        return [f"{plus}{key.lstrip('+~')}={v}" for v in found if v.startswith(start)]
    return [k for k in keys(command, previous) if k.startswith(incomplete)]


def _item(value: str) -> Any:
    try:
        from typer._click.shell_completion import CompletionItem
    except ImportError:  # typer versions that use click itself
        from click.shell_completion import CompletionItem
    return CompletionItem(value)


class CompletingCommand(TyperCommand):
    """A subcommand whose shell completion offers its config keys, groups, values and Hydra's flags."""

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        previous = list(ctx.args)
        if len(previous) >= 2 and previous[-1] == "=":  # bash's own split of key=value
            previous, incomplete = previous[:-2], f"{previous[-2]}={incomplete}"
        return [_item(c) for c in candidates(self.name or "", previous, incomplete)]


def register_shells() -> None:
    """Typer answers completion requests only for the shells it registered (it does so itself only when it
    adds its --install-completion option, which we replace with --completion)."""
    from typer._completion_classes import completion_init

    completion_init()


register_shells()


def script(shell: str) -> str:
    """The completion script for ``shell`` (bash: ours; zsh, fish, powershell: Typer's)."""
    if shell == "bash":
        return BASH
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="hopfield", complete_var="_HOPFIELD_COMPLETE", shell=shell)
