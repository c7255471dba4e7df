"""Query corruptions: damaged copies of stored patterns to retrieve from.

Each corruption has the form ``fn(patterns (B, d), generator, ...) -> Tensor (B, d)`` and returns a new
tensor on the device and in the dtype of ``patterns``. The random choices are drawn on the CPU from
``generator`` (a CPU ``torch.Generator``) and then moved, so one seed corrupts the same components on
every device.

Counts of changed components use ``num_changed(fraction, d) = floor(fraction * d + 1/2)`` (round half
up, not Python's round-half-to-even), so e.g. p = 0.5 of d = 3 changes 2 components.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from hopfield_cli.errors import UsageError, finite_float

CORRUPTIONS = ("flip", "flip_bernoulli", "noise", "mask", "mask_lower_half", "none")


def num_changed(fraction: float, dim: int) -> int:
    """Number of components a fraction of ``dim`` stands for: round half up of fraction * dim."""
    return int(math.floor(fraction * dim + 0.5))


def _unit_interval(value: Any, field: str) -> float:
    number = finite_float(value, field)
    if not 0.0 <= number <= 1.0:
        raise UsageError(field, f"must be in [0, 1], got {value!r}")
    return number


def _random_subset_mask(shape: tuple[int, int], k: int, generator: torch.Generator) -> torch.Tensor:
    """(B, d) bool mask with exactly k True per row, the k positions uniform among all subsets."""
    b, d = shape
    mask = torch.zeros(b, d, dtype=torch.bool)
    if k > 0:
        # The first k of a uniformly random permutation of each row.
        order = torch.rand(b, d, generator=generator, device="cpu").argsort(dim=1)
        mask.scatter_(1, order[:, :k], True)
    return mask


def _check_queries(patterns: torch.Tensor) -> None:
    if patterns.dim() != 2:
        raise ValueError(f"patterns must be 2-D (B, d), got shape {tuple(patterns.shape)}")


def flip_exact(patterns: torch.Tensor, generator: torch.Generator, p: float) -> torch.Tensor:
    """Change the sign of exactly num_changed(p, d) components per query, chosen uniformly at random.

    For +-1 patterns this is a uniform point on the Hamming sphere of radius round(p d) around the
    pattern; for real-valued patterns the chosen components are negated.
    """
    _check_queries(patterns)
    p = _unit_interval(p, "corruption.p")
    mask = _random_subset_mask(tuple(patterns.shape), num_changed(p, patterns.shape[1]), generator)
    return torch.where(mask.to(patterns.device), -patterns, patterns)


def flip_bernoulli(patterns: torch.Tensor, generator: torch.Generator, p: float) -> torch.Tensor:
    """Change the sign of each component independently with probability p."""
    _check_queries(patterns)
    p = _unit_interval(p, "corruption.p")
    mask = torch.rand(tuple(patterns.shape), generator=generator, device="cpu") < p
    return torch.where(mask.to(patterns.device), -patterns, patterns)


def gaussian_noise(patterns: torch.Tensor, generator: torch.Generator, sigma: float) -> torch.Tensor:
    """Add i.i.d. N(0, sigma^2) noise to every component.

    The noise is drawn in float64 for float64 patterns (a float64 run), else in float32 (the default; half
    dtypes are rounded from it), so a float64 run's queries carry no float32 rounding.
    """
    _check_queries(patterns)
    sigma = finite_float(sigma, "corruption.sigma")
    if sigma < 0:
        raise UsageError("corruption.sigma", f"must be >= 0, got {sigma!r}")
    draw = torch.float64 if patterns.dtype == torch.float64 else torch.float32
    noise = torch.randn(tuple(patterns.shape), generator=generator, device="cpu", dtype=draw)
    return patterns + sigma * noise.to(device=patterns.device, dtype=patterns.dtype)


def mask_random(
    patterns: torch.Tensor, generator: torch.Generator, fraction: float, fill: float = 0.0
) -> torch.Tensor:
    """Set exactly num_changed(fraction, d) components per query, chosen uniformly at random, to ``fill``."""
    _check_queries(patterns)
    fraction = _unit_interval(fraction, "corruption.fraction")
    fill = finite_float(fill, "corruption.fill")
    mask = _random_subset_mask(tuple(patterns.shape), num_changed(fraction, patterns.shape[1]), generator)
    return patterns.masked_fill(mask.to(patterns.device), fill)


def mask_lower_half(
    patterns: torch.Tensor,
    generator: torch.Generator | None = None,
    side: int | None = None,
    fill: float = 0.0,
) -> torch.Tensor:
    """Set the lower half of each query to ``fill`` (the paper's blog queries). Deterministic.

    With ``side`` (images, d == side * side, row-major) image rows side // 2 .. side - 1 are masked;
    without it, components d // 2 .. d - 1. ``generator`` is accepted for a uniform signature only.
    """
    _check_queries(patterns)
    fill = finite_float(fill, "corruption.fill")
    d = patterns.shape[1]
    if side is None:
        start = d // 2
    else:
        if isinstance(side, bool) or not isinstance(side, int) or side < 1:
            raise UsageError("corruption.side", f"must be a positive integer, got {side!r}")
        if side * side != d:
            raise UsageError(
                "corruption.side", f"is {side} but the patterns have d = {d}, not side * side = {side * side}"
            )
        start = (side // 2) * side
    out = patterns.clone()
    out[:, start:] = fill
    return out


def corrupt(
    queries: torch.Tensor, spec: Any, generator: torch.Generator, *, image_side: int | None = None
) -> torch.Tensor:
    """Apply the corruption that ``spec`` (the ``corruption`` group option) describes to ``queries``.

    ``spec.name`` with its own fields, read by attribute: ``flip`` (p), ``flip_bernoulli`` (p), ``noise``
    (sigma), ``mask`` (fraction, fill), ``mask_lower_half`` (fill; the image side is ``image_side``, the
    side of the stored images, or None for the lower half of the components), ``none`` (an unchanged copy).
    """
    name = getattr(spec, "name", None)
    fill = getattr(spec, "fill", None)
    fill = 0.0 if fill is None else fill

    def need(key: str) -> Any:
        value = getattr(spec, key, None)
        if value is None:
            raise UsageError(f"corruption.{key}", f"is required for corruption={name}")
        return value

    if name == "flip":
        return flip_exact(queries, generator, p=need("p"))
    if name == "flip_bernoulli":
        return flip_bernoulli(queries, generator, p=need("p"))
    if name == "noise":
        return gaussian_noise(queries, generator, sigma=need("sigma"))
    if name == "mask":
        return mask_random(queries, generator, fraction=need("fraction"), fill=fill)
    if name == "mask_lower_half":
        return mask_lower_half(queries, generator, side=image_side, fill=fill)
    if name == "none":
        return queries.clone()
    raise UsageError("corruption.name", f"unknown corruption {name!r}; use one of {', '.join(CORRUPTIONS)}")
