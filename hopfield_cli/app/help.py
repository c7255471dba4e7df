"""`hopfield <command> --help`: the command's fields, each config group's options with their own fields,
and examples that run as printed (square brackets are escaped, so Rich shows them)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hopfield_cli.app.commands import Command
from hopfield_cli.config import field_docs
from hopfield_cli.config.options import GROUPS

HYDRA_FLAGS = (
    "key=value, +key=value (add a key), group=option, -m/--multirun with a,b,c sweeps, --cfg job|hydra|all, "
    "--info, -cd/--config-dir DIR, -cn/--config-name NAME, hydra.run.dir=PATH, --hydra-help"
)


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if hasattr(value, "__dataclass_fields__"):
        return "(see below)"
    return str(value)


def _fields_table(title: str, rows: list[tuple[str, Any, str, str]], prefix: str = "") -> Table:
    table = Table(title=escape(title), title_justify="left", show_edge=False)
    for name in ("field", "default", "meaning", "allowed"):
        table.add_column(name, overflow="fold", style="bold" if name == "field" else None)
    for name, default, meaning, allowed in rows:
        table.add_row(escape(prefix + name), escape(_shown(default)), escape(meaning), escape(allowed))
    return table


def group_defaults(command: Command) -> dict[str, str]:
    """The option each config group of ``command`` uses by default (from its primary config's defaults)."""
    import yaml

    from hopfield_cli.app.check.compose import config_dir

    with open(f"{config_dir()}/{command.config_name}.yaml", encoding="utf-8") as fh:
        entries = yaml.safe_load(fh).get("defaults", [])
    return {k: v for e in entries if isinstance(e, dict) for k, v in e.items() if k in GROUPS}


def _run_options_help(console: Console, command: Command) -> None:
    """figures.*, the logger options (several at once) and the hparams_search presets of this command."""
    from hopfield_cli.app.check.compose import config_dir
    from hopfield_cli.config.loggers import LOGGERS
    from hopfield_cli.config.run_options import FigureOptions

    console.print(_fields_table("figures (every figure of the run)", field_docs(FigureOptions), "figures."))
    console.print("\n[bold]logger[/bold]=<option>, several at once: logger=\\[csv,mlflow] (default none):")
    for option, schema in LOGGERS.items():
        fields = ", ".join(f"logger.{option}.{n}={_shown(v)}" for n, v, _m, _a in field_docs(schema))
        console.print(f"  [bold]{option}[/bold]: {escape(fields)}")
    with open(f"{config_dir()}/{command.config_name}.yaml", encoding="utf-8") as fh:
        searchable = "hparams_search:" in fh.read()
    if searchable:
        import os

        presets = sorted(n[:-5] for n in os.listdir(f"{config_dir()}/hparams_search") if n.endswith(".yaml"))
        console.print(
            f"\n[bold]hparams_search[/bold]=<preset> (an Optuna search with -m; needs the search extra): "
            f"{escape(', '.join(presets))}"
        )


def print_command_help(command: Command) -> None:
    console = Console(soft_wrap=False)
    console.print(f"[bold]Usage:[/bold] hopfield {command.name} [OVERRIDES...] [HYDRA FLAGS]\n")
    console.print(escape(command.summary) + "\n")
    rows = [r for r in field_docs(command.schema) if r[0] != "families"]
    console.print(_fields_table("Config fields (key=value)", rows))
    if command.name == "capacity-sweep":
        families = {f: GROUPS["model"][f] for f in GROUPS["model"]}
        for family, schema in families.items():
            own = [r for r in field_docs(schema) if r[0] != "name"]
            if own:
                console.print(
                    _fields_table(
                        f"families.{family} (used when {family} is in models)", own, f"families.{family}."
                    )
                )
    _run_options_help(console, command)
    for group, default in group_defaults(command).items():
        console.print(f"\n[bold]{group}[/bold]=<option> (default {escape(default)}):")
        for option, schema in GROUPS[group].items():
            doc = (schema.__doc__ or "").strip().splitlines()[0]
            console.print(f"  [bold]{escape(option)}[/bold]: {escape(doc)}")
            for name, value, meaning, allowed in field_docs(schema):
                if name != "name":
                    line = f"{group}.{name}={_shown(value)}: {meaning} ({allowed or 'true | false'})"
                    console.print(f"      {escape(line)}")
    from hopfield_cli.app.check.named_experiments import for_command

    named = for_command(command.name)
    if named:
        console.print(
            "\n[bold]experiment[/bold]=<name> (named experiments in conf/experiment/, default none):"
        )
        for experiment in named:
            console.print(f"  [bold]{escape(experiment.name)}[/bold]: {escape(experiment.description)}")
    console.print(f"\n[bold]Hydra:[/bold] {escape(HYDRA_FLAGS)}")
    console.print("\n[bold]Examples:[/bold]")
    for example in command.examples:  # never wrapped, so a line copies whole
        console.print(f"  {escape(example)}", soft_wrap=True)
