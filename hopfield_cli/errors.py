"""User-facing errors and the value checks that produce them.

Everything the user can fix ends as ONE line ``error: <field>: <message>`` with exit status 2 and no
traceback. ``field`` names the config key (``dim``, ``patterns.path``, ``model.n``) so the message says
exactly what to change. The checks below (``Int``, ``Real``, ``OneOf``, ``Size``, ``Device``) are attached
to schema fields in ``config.py`` and say what is allowed in the same words in errors and in ``--help``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
    except (TypeError, ValueError, OverflowError):
        raise UsageError(field, f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise UsageError(field, f"must be finite, got {value!r}")
    return number


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: Any, field: str = "memory_budget") -> int | None:
    """'512MiB' | '2GB' | '1000000' | None -> bytes (None means choose automatically)."""
    if text is None or str(text).strip().lower() in ("", "auto", "none", "null"):
        return None
    raw = str(text).strip().lower().replace(" ", "")
    number = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if unit not in _SIZE_UNITS or not math.isfinite(value) or value <= 0:
        raise UsageError(field, f"must be a size like 512MiB, 2GB or a byte count > 0, got '{text}'")
    return int(value * _SIZE_UNITS[unit])


# --- checks attached to schema fields -------------------------------------------------------------------


@dataclass(frozen=True)
class Int:
    """An integer in [lo, hi] (hi None: no upper bound)."""

    lo: int = 1
    hi: int | None = None

    def describe(self) -> str:
        return f"an integer >= {self.lo:,}" + ("" if self.hi is None else f" and <= {self.hi:,}")

    def __call__(self, value: Any, field: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(field, f"must be {self.describe()}, got {value!r}")
        if value < self.lo or (self.hi is not None and value > self.hi):
            raise UsageError(field, f"must be {self.describe()}, got {value:,}")


@dataclass(frozen=True)
class Real:
    """A finite number in an interval; ``open_lo``/``open_hi`` exclude the ends."""

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False

    def describe(self) -> str:
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.open_lo else "[", ")" if self.open_hi else "]"
            return f"a number in {left}{self.lo:g}, {self.hi:g}{right}"
        if self.lo is not None:
            return f"a finite number {'>' if self.open_lo else '>='} {self.lo:g}"
        if self.hi is not None:
            return f"a finite number {'<' if self.open_hi else '<='} {self.hi:g}"
        return "a finite number"

    def __call__(self, value: Any, field: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UsageError(field, f"must be {self.describe()}, got {value!r}")
        number = float(value)
        low_bad = self.lo is not None and (number <= self.lo if self.open_lo else number < self.lo)
        high_bad = self.hi is not None and (number >= self.hi if self.open_hi else number > self.hi)
        if low_bad or high_bad:
            raise UsageError(field, f"must be {self.describe()}, got {value!r}")


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of names."""

    options: tuple[str, ...]

    def describe(self) -> str:
        return " | ".join(self.options)

    def __call__(self, value: Any, field: str) -> None:
        if value not in self.options:
            raise UsageError(field, f"must be one of {', '.join(self.options)}; got {value!r}")


@dataclass(frozen=True)
class Size:
    """A byte size such as 512MiB (null: chosen automatically)."""

    def describe(self) -> str:
        return "a size like 512MiB or 2GB"

    def __call__(self, value: Any, field: str) -> None:
        parse_bytes(value, field)


@dataclass(frozen=True)
class Device:
    """auto | cpu | cuda | cuda:N (whether it exists is checked later, with torch)."""

    def describe(self) -> str:
        return "auto | cpu | cuda | cuda:N"

    def __call__(self, value: Any, field: str) -> None:
        text = str(value)
        if not (text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit())):
            raise UsageError(field, f"must be one of auto, cpu, cuda, cuda:N; got {value!r}")


@dataclass(frozen=True)
class Text:
    """A non-empty text (a path); null where the field allows it."""

    what: str = "a path"

    def describe(self) -> str:
        return self.what

    def __call__(self, value: Any, field: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise UsageError(field, f"must be {self.what}, got {value!r}")
