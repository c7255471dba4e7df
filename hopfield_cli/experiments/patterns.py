"""The stored patterns of a run: made from the ``patterns`` option, or read from a memory file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hopfield_cli.core.device import resolve_device, resolve_dtype
from hopfield_cli.errors import UsageError


@dataclass
class PatternSet:
    """Stored patterns with what is known of where they came from."""

    patterns: (
        torch.Tensor
    )  # (N, d) on CPU: float32, or float64 in a dtype=float64 run (loaders.storage_dtype)
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        """A memory file's ``image_side`` must be the side of its d = side^2 pixel images (checked before any
        output: the image grid and the mask_lower_half corruption use it)."""
        side = self.metadata.get("image_side")
        d = self.patterns.shape[1]
        if side is not None and not (
            isinstance(side, int) and not isinstance(side, bool) and side * side == d
        ):
            raise UsageError(
                "memory",
                f"its metadata image_side = {repr(side)[:40]} is not the side of its d = {d} square images; "
                "the file was edited",
            )

    @property
    def image_side(self) -> int | None:
        side = self.metadata.get("image_side")
        return int(side) if side else None


def device_and_dtype(cfg: Any) -> tuple[torch.device, torch.dtype]:
    """The run's device and dtype (already checked by the shell; errors name the field all the same)."""
    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise UsageError("device", str(exc)) from None
    try:
        dtype = resolve_dtype(cfg.dtype, device)
    except ValueError as exc:
        raise UsageError("dtype", str(exc)) from None
    return device, dtype


def from_disk(spec: Any) -> bool:
    return spec.name in ("file", "images")


def held_dtype(cfg: Any) -> torch.dtype:
    """The dtype a run holds its patterns and queries in: float64 for dtype=float64, else float32."""
    from hopfield_cli.data.loaders import storage_dtype

    return storage_dtype(getattr(cfg, "dtype", "float32"))


def prepare(
    data: torch.Tensor, normalise: str, binarise: bool, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Normalise and/or take the sign of stored patterns, as the config asks (``data.patterns``); in ``dtype``."""
    from hopfield_cli.data import patterns as sources

    data = data.to(dtype)
    if normalise != "none":
        data = sources.normalise(data, normalise, field="normalise")
    if binarise:
        data = sources.binarise(data)
    return data.to(dtype).contiguous()


def build_patterns(cfg: Any, generator: torch.Generator, *, raw: bool = False) -> PatternSet:
    """Make or load the patterns of ``cfg.patterns`` (+ num_patterns, dim, normalise, binarise).

    For ``file``/``images`` sources N and d come from the data. ``raw``: skip normalise/binarise (a sweep
    applies them to each prefix it stores).
    """
    from hopfield_cli.data import patterns as sources

    metadata: dict[str, Any] = {}
    disk = from_disk(cfg.patterns)
    dtype = held_dtype(cfg)
    data = sources.make_patterns(
        cfg.patterns,
        None if disk else cfg.num_patterns,
        None if disk else cfg.dim,
        generator,
        info=metadata,
        dtype=dtype,
    )
    if raw:
        return PatternSet(data.to(dtype).contiguous(), metadata)
    metadata["normalisation"] = cfg.normalise
    if cfg.binarise:
        metadata["binarised"] = True
    return PatternSet(prepare(data, cfg.normalise, cfg.binarise, dtype), metadata)


def load_or_build(cfg: Any, generator: torch.Generator) -> PatternSet:
    """The patterns of ``cfg.memory`` (a file from `hopfield store`, as saved) or else ``build_patterns``."""
    if cfg.memory is not None:
        from hopfield_cli.data.memory_file import load_memory

        patterns, metadata = load_memory(cfg.memory, field="memory")
        return PatternSet(patterns.to(held_dtype(cfg)).contiguous(), dict(metadata))
    return build_patterns(cfg, generator)
