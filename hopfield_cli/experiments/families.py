"""Core model families built from a family's config (``model=...`` or ``families.<name>``)."""

from __future__ import annotations

from typing import Any

from hopfield_cli.config.fields import BETA_FAMILIES
from hopfield_cli.errors import UsageError


def make_model(family: Any, beta: float | None, seed: int, memory_budget: int | None, prefix: str) -> Any:
    """A core model of ``family`` (a model option: ``name`` + its own fields) at inverse temperature ``beta``.

    ``seed`` fixes the asynchronous update order of the binary families; ``prefix`` is where the family's
    fields live in the config (``model`` or ``families.dense``), so a core error names the right field.
    """
    from hopfield_cli.core.errors import CoreError
    from hopfield_cli.core.models import build_model

    params: dict[str, Any] = {}
    if family.name == "modern":
        params = {"beta": float(beta), "memory_budget": memory_budget}
    elif family.name == "classical":
        params = {"update": family.update_rule, "seed": int(seed)}
    elif family.name == "dense":
        params = {"n": int(family.n), "rectified": bool(family.rectified), "seed": int(seed)}
    elif family.name == "exponential":
        params = {"beta": float(beta), "seed": int(seed)}
    elif family.name == "sparse":
        params = {"beta": float(beta), "alpha": float(family.alpha)}
    try:
        return build_model(family.name, **params)
    except CoreError as exc:
        field = "beta" if exc.param == "beta" else f"{prefix}.{exc.param}"
        raise UsageError(field, exc.message) from None


def has_beta(name: str) -> bool:
    return name in BETA_FAMILIES
