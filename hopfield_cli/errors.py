"""User-facing errors: each becomes ONE line on stderr and exit status 2 (a usage error), no traceback.

Raise ``UsageError(field, message)`` for anything the user can fix: a config value, an input file, an
output folder. ``field`` names the config key (``dim``, ``patterns.path``, ``beta``) so the message can
say exactly what to change.
"""

from __future__ import annotations

import math
from typing import Any


class UsageError(Exception):
    """A problem with the user's input, reported as ``error: <field>: <message>``."""

    exit_code = 2

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = " ".join(str(message).split())  # always one line
        super().__init__(f"{field}: {self.message}")


class CapacityError(UsageError):
    """A run that cannot fit in memory or is absurdly large, detected before allocating."""


def finite_float(value: Any, field: str) -> float:
    """``value`` as a finite float, or a UsageError naming ``field``."""
    if isinstance(value, bool):
        raise UsageError(field, f"must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(field, f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise UsageError(field, f"must be finite, got {value!r}")
    return number
