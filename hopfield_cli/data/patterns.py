"""Pattern sources: random patterns of several kinds, or patterns read from a file or a folder of images.

Every generator has the form ``fn(num_patterns, dim, generator, ...) -> Tensor (N, d) float32`` with the
patterns as ROWS. Randomness comes only from ``generator``, a CPU ``torch.Generator`` seeded by the
caller; the tensors are made on the CPU so one seed gives the same patterns on every device (move them
afterwards).

Sources:
- ``binary``: entries +-1, each sign independent with probability 1/2 (the classical Hopfield setting).
- ``gaussian``: entries i.i.d. N(0, 1).
- ``sphere``: uniform on the sphere of radius M = K sqrt(d-1) (Theorem 3 of Ramsauer et al., 2021): a
  Gaussian vector scaled to that norm. ``radius_k`` is K.
- ``correlated``: patterns with mean overlap E[x_i . x_j] / d = rho for i != j, rho in [0, 1) (field
  ``correlation``) around ONE prototype (``correlated_prototype``), with ``entries``:
  * ``binary``: a random sign prototype s; each pattern copies each component of s with probability
    q = sqrt(rho), else takes a fresh random sign. Two patterns agree in expectation only where both
    copied (probability q^2), so E[x_ik x_jk] = q^2 = rho.
  * ``gaussian``: x_i = sqrt(rho) z_0 + sqrt(1 - rho) z_i with z's i.i.d. N(0, I) and z_0 the prototype:
    unit-variance entries with covariance rho between patterns.
- ``file``: a matrix from .npy/.csv/.safetensors/.pt (see ``loaders.load_matrix``).
- ``images``: a folder of PNG/JPEG images, gray scale in [-1, 1] (see ``loaders.load_images``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from hopfield_cli.data.loaders import load_images, load_matrix
from hopfield_cli.errors import UsageError, finite_float

SOURCES = ("binary", "gaussian", "sphere", "correlated", "file", "images")
NORMALISATIONS = ("none", "unit", "center", "standard")
CORRELATED_ENTRIES = ("binary", "gaussian")


def _check_size(num_patterns: Any, dim: Any) -> None:
    for name, value in (("num_patterns", num_patterns), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(name, f"must be a positive integer, got {value!r}")


def random_bits(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """0/1 as uint8, one 32-bit draw of ``generator`` per entry: the values of ``torch.randint(0, 2, shape)``
    (int64), 5x faster (the int64 tensor and its float copy were the drawing's cost)."""
    return torch.randint(0, 2, shape, generator=generator, device="cpu", dtype=torch.uint8)


def signs_from_bits(bits: torch.Tensor) -> torch.Tensor:
    """+-1 float32 from 0/1 bits: 2 b - 1."""
    return bits.to(torch.float32).mul_(2.0).sub_(1.0)


def _random_signs(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return signs_from_bits(random_bits(shape, generator))


def binary(num_patterns: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """Uniform random +-1 patterns, shape (N, d)."""
    _check_size(num_patterns, dim)
    return _random_signs((num_patterns, dim), generator)


def gaussian(num_patterns: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """Patterns with i.i.d. N(0, 1) entries, shape (N, d)."""
    _check_size(num_patterns, dim)
    return torch.randn(num_patterns, dim, generator=generator, device="cpu", dtype=torch.float32)


def sphere(num_patterns: int, dim: int, generator: torch.Generator, radius_k: float = 1.0) -> torch.Tensor:
    """Patterns uniform on the sphere of radius K sqrt(d-1), Theorem 3's setting; shape (N, d)."""
    _check_size(num_patterns, dim)
    if dim < 2:
        raise UsageError("dim", "the sphere source needs dim >= 2 (its radius K sqrt(d-1) is 0 for d = 1)")
    k = finite_float(radius_k, "patterns.radius_k")
    if k <= 0:
        raise UsageError("patterns.radius_k", f"must be > 0, got {radius_k!r}")
    # Computed in float64 so every norm is K sqrt(d-1) to float32 rounding.
    z = torch.randn(num_patterns, dim, generator=generator, device="cpu", dtype=torch.float64)
    norms = z.norm(dim=1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
    return (z * (k * math.sqrt(dim - 1) / norms)).to(torch.float32)


def _check_entries(entries: Any) -> None:
    if entries not in CORRELATED_ENTRIES:
        raise UsageError(
            "patterns.entries", f"unknown entries {entries!r}; use one of {', '.join(CORRELATED_ENTRIES)}"
        )


def correlated_prototype(dim: int, generator: torch.Generator, entries: str = "binary") -> torch.Tensor:
    """The prototype the correlated patterns share, (1, d): random signs (binary) or N(0, I) (gaussian)."""
    _check_entries(entries)
    if entries == "binary":
        return _random_signs((1, dim), generator)
    return torch.randn(1, dim, generator=generator, device="cpu")


def correlated(
    num_patterns: int,
    dim: int,
    generator: torch.Generator,
    rho: float = 0.5,
    entries: str = "binary",
    prototype: torch.Tensor | None = None,
) -> torch.Tensor:
    """Patterns with mean pairwise overlap E[x_i . x_j] / d = rho (see the module docstring); shape (N, d).

    Without ``prototype`` it is drawn first from ``generator``; a caller that draws patterns in blocks
    passes the one prototype of all its blocks (``correlated_prototype``) so the blocks stay correlated.
    """
    _check_size(num_patterns, dim)
    r = finite_float(rho, "patterns.correlation")
    if not 0.0 <= r < 1.0:
        raise UsageError("patterns.correlation", f"must be in [0, 1), got {rho!r}")
    _check_entries(entries)
    if prototype is None:
        prototype = correlated_prototype(dim, generator, entries)
    if tuple(prototype.shape) != (1, dim):
        raise ValueError(f"prototype must have shape (1, {dim}), got {tuple(prototype.shape)}")
    if entries == "binary":
        copies = torch.rand(num_patterns, dim, generator=generator, device="cpu") < math.sqrt(r)
        fresh = _random_signs((num_patterns, dim), generator)
        return torch.where(copies, prototype, fresh)
    z = torch.randn(num_patterns, dim, generator=generator, device="cpu")
    return math.sqrt(r) * prototype + math.sqrt(1.0 - r) * z


def make_patterns(
    spec: Any,
    num_patterns: int | None,
    dim: int | None,
    generator: torch.Generator,
    *,
    info: dict | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Build the stored patterns (N, d) that ``spec`` (the ``patterns`` group option) describes.

    Generated sources are float32 (the same patterns for every run dtype); ``file`` and ``images`` are read in
    ``loaders.storage_dtype(dtype)``, so a float64 run keeps a float64 file's own values.

    ``spec.name`` is the source; its own fields are read by attribute: ``radius_k`` (sphere);
    ``correlation``, ``entries`` (correlated); ``path`` (file); ``path``, ``side`` (images). For ``file``
    and ``images`` the patterns come from disk: ``num_patterns`` None means all of them, a smaller number
    takes the first rows (in file or file-name order); ``dim`` None means the file's width, otherwise it
    must match.

    If ``info`` is a dict it is updated with provenance for the memory file's metadata (``source``: the
    source's name, and its parameters; for images ``image_side`` and ``file_names``).
    """
    name = getattr(spec, "name", None)
    if name not in SOURCES:
        raise UsageError("patterns.name", f"unknown source {name!r}; use one of {', '.join(SOURCES)}")
    details: dict[str, Any] = {"source": name}

    if name in ("file", "images"):
        path = getattr(spec, "path", None)
        if path in (None, ""):
            raise UsageError("patterns.path", f"is required for patterns={name}")
        details["path"] = str(path)
        if name == "file":
            patterns = load_matrix(path, field="patterns.path", dtype=dtype)
        else:
            side = getattr(spec, "side", 64)
            patterns, names = load_images(path, side=side, field="patterns.path", dtype=dtype)
            details.update(image_side=side, file_names=names)
        patterns = _select(patterns, num_patterns, dim, name)
        if name == "images":
            details["file_names"] = details["file_names"][: patterns.shape[0]]
    else:
        if num_patterns is None or dim is None:
            raise UsageError(
                "num_patterns" if num_patterns is None else "dim", f"is required for patterns={name}"
            )
        if name == "binary":
            patterns = binary(num_patterns, dim, generator)
        elif name == "gaussian":
            patterns = gaussian(num_patterns, dim, generator)
        elif name == "sphere":
            radius_k = getattr(spec, "radius_k", 1.0)
            patterns = sphere(num_patterns, dim, generator, radius_k=radius_k)
            details["radius_k"] = radius_k
        else:
            rho, entries = getattr(spec, "correlation", 0.5), getattr(spec, "entries", "binary")
            patterns = correlated(num_patterns, dim, generator, rho=rho, entries=entries)
            details.update(correlation=rho, entries=entries)
    if info is not None:
        info.update(details)
    return patterns


def _select(patterns: torch.Tensor, num_patterns: int | None, dim: int | None, source: str) -> torch.Tensor:
    n, d = patterns.shape
    if dim is not None and dim != d:
        hint = " (images give d = side * side)" if source == "images" else ""
        raise UsageError(
            "dim", f"is {dim} but the {source} patterns have d = {d}{hint}; set dim={d} or leave it unset"
        )
    if num_patterns is not None:
        if isinstance(num_patterns, bool) or not isinstance(num_patterns, int) or num_patterns < 1:
            raise UsageError("num_patterns", f"must be a positive integer, got {num_patterns!r}")
        if num_patterns > n:
            raise UsageError(
                "num_patterns", f"is {num_patterns} but the {source} source holds only {n} patterns"
            )
        patterns = patterns[:num_patterns]
    return patterns


def normalise(patterns: torch.Tensor, mode: str, field: str = "patterns.normalise") -> torch.Tensor:
    """Normalise the patterns (rows): ``none``; ``unit`` (each row to norm 1); ``center`` (subtract the
    mean pattern m_x); ``standard`` (center, then unit). Returns a new tensor.

    Norms are measured without over- or underflow (``_row_norms``), so rows of any finite size can be
    scaled; centred values beyond the dtype's range (the difference of two entries near +-3.4e38) are refused.
    """
    if mode not in NORMALISATIONS:
        raise UsageError(field, f"unknown normalisation {mode!r}; use one of {', '.join(NORMALISATIONS)}")
    out = patterns.clone()
    if mode in ("center", "standard"):
        mean = out.mean(dim=0, keepdim=True)
        if not bool(torch.isfinite(mean).all()):  # the float32 sum overflowed: average in float64
            mean = out.mean(dim=0, keepdim=True, dtype=torch.float64).to(out.dtype)
        out = out - mean
        if not bool(torch.isfinite(out).all()):
            raise UsageError(
                field,
                f"centering gives values beyond {out.dtype}'s range (+-{torch.finfo(out.dtype).max:.3g}); "
                "rescale the patterns",
            )
    if mode in ("unit", "standard"):
        norms = _row_norms(out)  # (N, 1)
        zero = (norms.squeeze(1) == 0).nonzero()
        if len(zero):
            why = " after centering (it equals the mean pattern)" if mode == "standard" else ""
            raise UsageError(field, f"pattern {int(zero[0])} has norm 0{why}; it cannot be scaled to norm 1")
        out = (out.double() / norms).to(out.dtype) if norms.dtype == torch.float64 else out / norms
    return out


def _row_norms(rows: torch.Tensor) -> torch.Tensor:
    """||row|| of each row, (N, 1); rows whose squares over- or underflow are measured again in float64,
    scaled by their largest entry (the result is then float64)."""
    norms = rows.norm(dim=1, keepdim=True)
    tiny = torch.finfo(norms.dtype).tiny * 2.0**24
    bad = (~torch.isfinite(norms) | (norms * norms < tiny)).squeeze(1)
    if not bool(bad.any()):
        return norms
    exact = norms.double()
    part = rows[bad].double()
    top = part.abs().amax(dim=1, keepdim=True)
    exact[bad] = torch.where(top > 0, (part / top.clamp_min(1e-300)).norm(dim=1, keepdim=True) * top, 0.0)
    return exact


def binarise(patterns: torch.Tensor) -> torch.Tensor:
    """Signs of the entries as +-1 in the same dtype; 0 maps to +1."""
    one = torch.ones((), dtype=patterns.dtype, device=patterns.device)
    return torch.where(patterns >= 0, one, -one)
