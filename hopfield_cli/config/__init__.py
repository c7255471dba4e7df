"""Typed config schemas: one dataclass per config-group option and one per command, registered with Hydra.

Each option file in ``conf/<group>/`` extends its schema here (``defaults: [<option>_schema]``), so a key the
chosen option does not have is refused by Hydra itself (``model=modern model.n=7``: ``Key 'n' not in
'ModernModel'``), and ``--cfg job`` / ``.hydra/config.yaml`` show only the chosen option's fields. Every field
carries its help text and its allowed values (a check from ``errors.py``); ``check_values`` walks a composed,
typed config and applies them, then each command's cross-field rules (``check_relations``). Checks that need
files, torch or free memory are not here (``app/check/checks.py``).

The capacity sweep compares several families side by side, so it has no ``model`` group: ``models=[...]``
names them and ``families.<name>.<field>`` holds each family's own settings (``families.dense.n=4``).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from omegaconf import MISSING

from hopfield_cli.config.commands import COMMAND_SCHEMAS
from hopfield_cli.config.options import GROUPS
from hopfield_cli.errors import UsageError


@functools.cache
def register_configs() -> None:
    """Register each command schema as ``<config name>_schema`` and each option as ``<group>/<option>_schema``.

    Once per process: the ConfigStore outlives a run, and converting the schemas again costs ~16 ms per run
    (noticeable where one process runs many: the test suite, a joblib worker)."""
    from hydra.core.config_store import ConfigStore

    from hopfield_cli.data.blog_images import register_resolver

    register_resolver()  # ${sample_images:} (conf/experiment/blog_images.yaml)
    store = ConfigStore.instance()
    for config_name, schema in COMMAND_SCHEMAS.items():
        store.store(name=f"{config_name}_schema", node=schema)
    for group, options in GROUPS.items():
        for option, schema in options.items():
            store.store(group=group, name=f"{option}_schema", node=schema)


def check_values(cfg: Any, prefix: str = "") -> None:
    """Apply every field's check in a typed config (dataclass instances), depth first, then its relations."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        name = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_values(value, f"{name}.")
            continue
        check = f.metadata.get("check")
        if value is None or check is None:
            continue
        if isinstance(value, list):
            if not value:
                raise UsageError(name, "must not be empty; give at least one value or null")
            for i, item in enumerate(value):
                check(item, f"{name}[{i}]")
        else:
            check(value, name)
    relations = getattr(cfg, "check_relations", None)
    if relations is not None:
        relations()


def field_docs(schema: type) -> list[tuple[str, Any, str, str]]:
    """(name, default, help, allowed values) of each plain field of ``schema``, for ``--help``."""
    rows = []
    for f in dataclasses.fields(schema):
        if f.default is MISSING and f.default_factory is dataclasses.MISSING:
            continue  # a config group, listed with its options
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        check = f.metadata.get("check")
        rows.append(
            (f.name, default, f.metadata.get("help", ""), check.describe() if check is not None else "")
        )
    return rows


def option_text(option: Any) -> str:
    """A group option and its fields as one short text: ``flip(p=0.25)``, ``mask_lower_half(fill=0)``."""

    def shown(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        return f"{value:g}" if isinstance(value, float) else str(value)

    fields = [
        f"{f.name}={shown(getattr(option, f.name))}" for f in dataclasses.fields(option) if f.name != "name"
    ]
    return option.name + (f"({', '.join(fields)})" if fields else "")
