"""The model registry: names -> families, parameter checking, and the +-1 gate for the binary families."""

from __future__ import annotations

import dataclasses
import importlib

import torch

from hopfield_cli.core.base import HopfieldModel
from hopfield_cli.core.errors import CoreError

MODEL_NAMES = ("modern", "classical", "dense", "exponential", "sparse")
BINARY_MODELS = frozenset({"classical", "dense", "exponential"})

# name -> (module, class); imported on demand so that one family's optional dependency never blocks another.
_FAMILIES = {
    "modern": ("hopfield_cli.core.modern", "ModernHopfield"),
    "classical": ("hopfield_cli.core.classical", "ClassicalHopfield"),
    "dense": ("hopfield_cli.core.dense", "DenseAssociativeMemory"),
    "exponential": ("hopfield_cli.core.exponential", "ExponentialMemory"),
    "sparse": ("hopfield_cli.core.sparse", "SparseHopfield"),
}


def model_class(name: str) -> type:
    """The dataclass of a family; CoreError("model", ...) for an unknown name."""
    if name not in _FAMILIES:
        raise CoreError("model", f"unknown model '{name}'; allowed: {', '.join(MODEL_NAMES)}")
    module, cls = _FAMILIES[name]
    return getattr(importlib.import_module(module), cls)


def build_model(name: str, **params) -> HopfieldModel:
    """Instantiate family ``name`` with ``params``.

    Unknown names and parameters are CoreError("model", ...); a bad value is the family's CoreError naming
    that parameter (``beta``, ``n``, ``update_rule``, ``alpha``).
    """
    cls = model_class(name)
    allowed = [field.name for field in dataclasses.fields(cls) if field.init]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise CoreError(
            "model",
            f"model {name} has no parameter {', '.join(repr(p) for p in unknown)}; allowed: {', '.join(allowed)}",
        )
    try:
        return cls(**params)
    except CoreError:
        raise  # the family named its own parameter
    except TypeError as error:  # a required parameter is missing (e.g. beta)
        raise CoreError("model", f"model {name}: {error}; allowed: {', '.join(allowed)}") from error
    except ValueError as error:  # a value that fails before the family's own check (e.g. int("x"))
        raise CoreError("model", f"model {name}: {error}") from error


def check_binary(
    patterns: torch.Tensor, queries: torch.Tensor, *, binarise: bool, model_name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gate the binary families (classical, dense, exponential) on +-1 inputs.

    Other families get their inputs back unchanged. With ``binarise`` the sign is taken (0 -> +1);
    without it, any value other than +-1 is a CoreError naming ``patterns`` or ``queries``.
    """
    if model_name not in BINARY_MODELS:
        return patterns, queries
    if binarise:
        return _sign(patterns), _sign(queries)
    for field, values in (("patterns", patterns), ("queries", queries)):
        if values.numel() and not bool((values.abs() == 1).all()):
            low, high = float(values.min()), float(values.max())
            raise CoreError(
                field,
                f"model {model_name} needs +-1 {field}; got values in [{low:g}, {high:g}]; "
                "set binarise=true to take their sign",
            )
    return patterns, queries


def _sign(values: torch.Tensor) -> torch.Tensor:
    """sign with 0 -> +1, in the input's dtype (floating point kept)."""
    dtype = values.dtype if values.is_floating_point() else torch.get_default_dtype()
    return torch.where(values >= 0, 1.0, -1.0).to(dtype)
