"""`hopfield <command> --help`: the command's config fields with their defaults, groups and examples."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from hopfield_cli.config import SCHEMAS

EXAMPLES: dict[str, list[str]] = {
    "store": [
        "hopfield store num_patterns=1000 dim=64 out=mem.safetensors",
        "hopfield store patterns=sphere patterns.radius_k=3 dim=20",
        "hopfield store patterns=images patterns.path=faces/ patterns.side=64",
    ],
    "retrieve": [
        "hopfield retrieve memory=mem.safetensors corruption.p=0.2 beta=8",
        "hopfield retrieve model=classical model.update_rule=sync num_patterns=8 dim=64 corruption=flip_bernoulli",
        "hopfield retrieve -m beta=0.5,2,8 corruption=mask_lower_half memory=faces.safetensors",
    ],
    "capacity-sweep": [
        "hopfield capacity-sweep dim=64 beta=8",
        "hopfield capacity-sweep models=[modern,classical,dense] dims=[16,32,64,128]",
        "hopfield capacity-sweep patterns=sphere patterns.radius_k=1 betas=[1,4,16] trials=10",
        "hopfield capacity-sweep resume=outputs/2026-11-26/10-00-00-capacity_sweep",
    ],
    "metastable-scan": [
        "hopfield metastable-scan",
        "hopfield metastable-scan clusters=8 cluster_spread=0.05 num_patterns=128",
        "hopfield metastable-scan attention=bert_attentions.safetensors",
    ],
}

HYDRA_FLAGS = (
    "key=value, +key=value (add a key), group=option, -m/--multirun with a,b,c sweeps, --cfg job|hydra|all, "
    "--info, -cd/--config-dir DIR, -cn/--config-name NAME, hydra.run.dir=PATH, --hydra-help"
)


def _field_help(schema: type, dotted: str) -> str:
    node: Any = schema
    meta: dict[str, Any] = {}
    for part in dotted.split("."):
        fields = {f.name: f for f in dataclasses.fields(node)} if dataclasses.is_dataclass(node) else {}
        if part not in fields:
            return ""
        meta = dict(fields[part].metadata)
        default_factory = fields[part].default_factory
        node = default_factory() if default_factory is not dataclasses.MISSING else None
        node = type(node) if dataclasses.is_dataclass(node) else None
    return meta.get("help", "")


def _flatten(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(data, dict):
        rows: list[tuple[str, Any]] = []
        for key, value in data.items():
            rows.extend(_flatten(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
        return rows
    return [(prefix, data)]


def print_command_help(command: str, config_dir: str) -> None:
    from hopfield_cli.config import register_configs
    from hopfield_cli.preflight import _compose

    register_configs()
    cfg = _compose(config_dir, command.replace("-", "_"), None, [])
    data = OmegaConf.to_container(cfg, resolve=False)
    schema = SCHEMAS[command]
    console = Console()
    console.print(f"[bold]Usage:[/bold] hopfield {command} [OVERRIDES...] [HYDRA FLAGS]\n")
    groups = {}
    for sub in sorted(p for p in Path(config_dir).iterdir() if p.is_dir()):
        options = sorted(f.stem for f in sub.glob("*.yaml"))
        if sub.name in data and options:
            groups[sub.name] = options
    if groups:
        console.print("[bold]Config groups[/bold] (choose with group=option):")
        for group, options in groups.items():
            console.print(f"  {group}: {' | '.join(options)}")
        console.print()
    table = Table(title="Config fields (defaults)", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("default")
    table.add_column("meaning")
    for key, value in _flatten(data):
        table.add_row(key, "null" if value is None else str(value), _field_help(schema, key))
    console.print(table)
    console.print(f"\n[bold]Hydra:[/bold] {HYDRA_FLAGS}")
    console.print("\n[bold]Examples:[/bold]")
    for example in EXAMPLES.get(command, []):
        console.print(f"  {example}")
