"""The model registry: names -> families, parameter checking, and the +-1 gate for the binary families."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from hopfield_cli.core.base import HopfieldModel
from hopfield_cli.core.errors import CoreError


@dataclass(frozen=True)
class Family:
    """Everything the rest of the package needs to know of a family, in one record.

    ``fields`` maps each constructor parameter a user sets to the name of its config field (``model.<field>``);
    ``beta``, ``seed`` and ``memory_budget`` are handed over by name where the class takes them.
    ``capacity``: how its storage capacity grows with d (``exponential`` for the modern-type families, ``linear``
    for the classical network, ``power`` for dense z^n), which decides the capacity table's fits.
    ``working_memory(n, d, b, elem)``: bytes it holds beyond patterns and queries for B queries against N
    patterns in elements of ``elem`` bytes (None: the modern network's, planned from the memory budget).
    """

    name: str
    module: str
    cls: str
    binary: bool  # takes +-1 patterns and states only
    has_beta: bool
    capacity: str
    fields: dict[str, str]
    working_memory: Callable[[int, int, int, int], list[tuple[str, int, str]]] | None


def _copies(name: str) -> Callable[[int, int, int, int], list[tuple[str, int, str]]]:
    """The binary families' float64 pattern copy, (B, N) overlaps and chunked field temporaries."""

    def terms(n: int, d: int, b: int, elem: int) -> list[tuple[str, int, str]]:
        chunk = min(b * n, max(n, FIELD_CHUNK))
        return [
            ("patterns", n * d * 8, f"{n:,} x {d:,} float64 patterns ({name})"),
            ("overlaps", 2 * b * n * 8, f"{b:,} x {n:,} float64 overlaps ({name})"),
            ("overlaps", 12 * chunk * 8, f"field temporaries ({name})"),
        ]

    return terms


def _classical_memory(n: int, d: int, b: int, elem: int) -> list[tuple[str, int, str]]:
    copy = [("patterns", n * d * 8, f"{n:,} x {d:,} float64 patterns (classical)")]
    if n > d:  # the Hebbian weights d x d and the product X^T X (core/classical.py)
        return copy + [("dim", 2 * d * d * 8, f"{d:,} x {d:,} Hebbian weights")]
    return copy + [("overlaps", 3 * b * n * 8, f"{b:,} x {n:,} overlaps and their squares")]


def _sparse_memory(n: int, d: int, b: int, elem: int) -> list[tuple[str, int, str]]:
    block = min(b * n, max(n, SPARSE_CHUNK))  # row blocks of (rows x N) scores: entmax, sort, float64 energy
    return [("overlaps", block * SPARSE_BYTES, f"{b:,} x {n:,} scores in row blocks (sparse)")]


FIELD_CHUNK = 1 << 20  # core.dense.CHUNK_ELEMENTS: the binary families' (B, chunk) float64 temporaries
SPARSE_CHUNK = 1 << 20  # core.sparse.ROW_CHUNK_ELEMENTS
SPARSE_BYTES = 120  # per entry of one sparse row block: scores, sort, entmax and the float64 energy

# The registry. A new family is its class (core/<name>.py), one record here, its option schema
# (config/options.py) and conf/model/<name>.yaml; tests/core/test_models.py checks the config names the same.
FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("modern", "hopfield_cli.core.modern", "ModernHopfield", False, True, "exponential", {}, None),
        Family(
            "classical",
            "hopfield_cli.core.classical",
            "ClassicalHopfield",
            True,
            False,
            "linear",
            {"update": "update_rule"},
            _classical_memory,
        ),
        Family(
            "dense",
            "hopfield_cli.core.dense",
            "DenseAssociativeMemory",
            True,
            False,
            "power",
            {"n": "n", "rectified": "rectified"},
            _copies("dense"),
        ),
        Family(
            "exponential",
            "hopfield_cli.core.exponential",
            "ExponentialMemory",
            True,
            True,
            "exponential",
            {},
            _copies("exponential"),
        ),
        Family(
            "sparse",
            "hopfield_cli.core.sparse",
            "SparseHopfield",
            False,
            True,
            "exponential",
            {"alpha": "alpha"},
            _sparse_memory,
        ),
    )  # fmt: skip
}
MODEL_NAMES = tuple(FAMILIES)
BINARY_MODELS = frozenset(name for name, f in FAMILIES.items() if f.binary)
BETA_MODELS = tuple(name for name, f in FAMILIES.items() if f.has_beta)
EXPONENTIAL_MODELS = tuple(name for name, f in FAMILIES.items() if f.capacity == "exponential")


def family(name: str) -> Family:
    """The record of family ``name``; CoreError("model", ...) for an unknown name."""
    if name not in FAMILIES:
        raise CoreError("model", f"unknown model '{name}'; allowed: {', '.join(MODEL_NAMES)}")
    return FAMILIES[name]


def config_field(param: str) -> str | None:
    """The config field of a family (``model.<field>``) that a core error's parameter names, or None."""
    for record in FAMILIES.values():
        if param in record.fields:
            return record.fields[param]
        if param in record.fields.values():
            return param
    return None


def model_class(name: str) -> type:
    """The dataclass of a family; CoreError("model", ...) for an unknown name."""
    record = family(name)
    return getattr(importlib.import_module(record.module), record.cls)


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
