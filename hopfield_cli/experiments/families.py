"""Core model families built from a family's config (``model=...`` or ``families.<name>``).

Generic over the registry (``core.models.FAMILIES``): a constructor parameter is ``beta``, ``seed``,
``memory_budget`` where the class takes them, else the config field its record names.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from hopfield_cli.errors import UsageError

HANDED_OVER = ("beta", "seed", "memory_budget")  # given by the run, not by the family's own fields


def make_model(family: Any, beta: float | None, seed: int, memory_budget: int | None, prefix: str) -> Any:
    """A core model of ``family`` (a model option: ``name`` + its own fields) at inverse temperature ``beta``.

    ``seed`` fixes the asynchronous update order of the binary families; ``prefix`` is where the family's
    fields live in the config (``model`` or ``families.dense``), so a core error names the right field.
    """
    from hopfield_cli.core.errors import CoreError
    from hopfield_cli.core.models import build_model, model_class
    from hopfield_cli.core.models import family as record_of

    record = record_of(family.name)
    run_values = {"beta": beta, "seed": seed, "memory_budget": memory_budget}
    params: dict[str, Any] = {}
    for f in dataclasses.fields(model_class(family.name)):
        if not f.init:
            continue
        if f.name in HANDED_OVER and (f.name != "beta" or record.has_beta):
            params[f.name] = run_values[f.name]
        elif f.name in record.fields:
            params[f.name] = getattr(family, record.fields[f.name])
    try:
        return build_model(family.name, **params)
    except CoreError as exc:
        field = "beta" if exc.param == "beta" else f"{prefix}.{record.fields.get(exc.param, exc.param)}"
        raise UsageError(field, exc.message) from None


def has_beta(name: str) -> bool:
    from hopfield_cli.core.models import family

    return family(name).has_beta
