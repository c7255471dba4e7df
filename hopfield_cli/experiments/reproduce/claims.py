"""A claim of Ramsauer et al. (2021) as measured: where the paper states it, theory, measurement, verdict.

Verdicts are computed from numbers, never written by hand: ``PASS`` when the measured value meets the
theory within the stated tolerance, ``FAIL`` when it does not, ``NOT APPLICABLE`` when the theory makes no
prediction for the measured case (a theorem's condition fails, or a user's attention file has no expected
classes). ``Claim.row`` is one row of ``claims.csv``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PASS, FAIL, NOT_APPLICABLE = "PASS", "FAIL", "NOT APPLICABLE"
FLOAT32_EPS = 2.0**-23
FLOAT64_EPS = 2.0**-52


def verdict(ok: bool | None) -> str:
    """PASS / FAIL from a comparison; None (no prediction) is NOT APPLICABLE."""
    if ok is None:
        return NOT_APPLICABLE
    return PASS if ok else FAIL


def close(measured: float, theory: float, tolerance: float) -> bool:
    """|measured - theory| <= tolerance (NaN never passes)."""
    return bool(math.isfinite(measured) and abs(measured - theory) <= tolerance)


@dataclass
class Claim:
    """One claim: what the paper says and where, the command that reproduces it alone, and the numbers."""

    claim: str  # id, e.g. "eq3_attention"
    title: str
    statement: str  # the paper's statement, paraphrased
    where: str  # section, theorem, equation, figure
    command: str  # the command that reproduces it alone
    theory: str  # the theory value, as shown
    measured: str  # the measured value, as shown
    tolerance: str  # the tolerance, with its reason
    verdict: str
    theory_value: float = math.nan
    measured_value: float = math.nan
    figure: str = ""  # path relative to the run folder
    detail: str = ""  # how it was measured
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("extra")
        return row


def relative_figure(path: Path | None, root: Path) -> str:
    """A figure's path relative to the run folder ('' when none was written)."""
    if path is None:
        return ""
    try:
        return str(Path(path).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def reproduce_command(claim: str, profile: str) -> str:
    """The command that measures one claim alone (the same code path, the same sizes)."""
    return f"hopfield reproduce profile={profile} claims=[{claim}]"
