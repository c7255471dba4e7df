"""Schema building blocks: a field with its help text and check, and the shared constants."""

from __future__ import annotations

import dataclasses
from dataclasses import field
from typing import Any

from hopfield_cli.errors import OneOf

MAX_PATTERNS = 10**9  # beyond these a run is certainly a typo (checked before any memory estimate)
MAX_DIM = 10**7
MAX_SEED = 2**63 - 1
NORMALISE = OneOf(("none", "unit", "center", "standard"))


def opt(default: Any, help: str, check: Any = None) -> Any:
    """A schema field with its help text and its check (``errors.Int``, ``OneOf``, ...)."""
    meta = {"help": help, "check": check}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return field(default_factory=lambda: _copy(default), metadata=meta)
    return field(default=default, metadata=meta)


def _copy(value: Any) -> Any:
    return dataclasses.replace(value) if dataclasses.is_dataclass(value) else type(value)(value)


def option_name(option: str, group: str) -> Any:
    """The ``name`` field of a group option: fixed to the option chosen with ``group=option``."""
    return opt(option, f"set by {group}={option}", OneOf((option,)))
