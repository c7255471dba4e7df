"""Memory files: the stored patterns of one memory in ONE safetensors file (never a pickle).

Layout: the (N, d) float32 tensor under the key ``patterns``; everything else is safetensors string
metadata. String values are stored as they are; any other value is JSON-encoded and its key listed in
the JSON list ``json_keys``, so ``load_memory`` gives back exactly the types that were saved.

Metadata written by ``save_memory`` (computed keys always describe the tensor being written and
replace any value the caller passes for them):
    format ("hopfield-memory"), format_version, num_patterns, dim, value_min, value_max,
    checksum (sha256 of the tensor's bytes, row-major little-endian float32), versions
    (hopfield_cli, torch, safetensors, numpy, python), created (UTC, ISO 8601), json_keys,
and from the caller (None when not given): source, seed, normalisation; plus any other keys the
caller passes (image side, file names, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from hopfield_cli.data.readers import require_file
from hopfield_cli.errors import UsageError
from hopfield_cli.report.files import atomic_write

FORMAT = "hopfield-memory"
FORMAT_VERSION = 1
TENSOR_KEY = "patterns"
CALLER_KEYS = ("source", "seed", "normalisation")


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a memory file's contents."""
    from hopfield_cli import __version__

    return {
        "hopfield_cli": __version__,
        "torch": torch.__version__,
        "safetensors": getattr(safetensors, "__version__", "unknown"),
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def checksum(patterns: torch.Tensor) -> str:
    """sha256 hex digest of the patterns as row-major little-endian float32 bytes."""
    array = patterns.detach().to("cpu", torch.float32).contiguous().numpy()
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


def save_memory(
    path: str | os.PathLike, patterns: torch.Tensor, metadata: dict, field: str = "memory"
) -> Path:
    """Write ``patterns`` (N, d) and ``metadata`` to ``path`` atomically; return the path written.

    The file is written through ``report.files.atomic_write`` (a temporary file in the same folder with
    the usual umask permissions, fsync'ed, then renamed into place), so a killed run never leaves half a
    memory file. Missing parent folders are created.
    """
    if not isinstance(patterns, torch.Tensor) or patterns.dim() != 2 or 0 in patterns.shape:
        raise ValueError(
            f"patterns must be a non-empty 2-D tensor, got {getattr(patterns, 'shape', type(patterns))}"
        )
    tensor = patterns.detach().to("cpu", torch.float32).contiguous()
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError("patterns hold NaN or inf; refusing to store them")

    meta: dict[str, Any] = {key: None for key in CALLER_KEYS}
    meta.update(metadata)
    meta.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        num_patterns=int(tensor.shape[0]),
        dim=int(tensor.shape[1]),
        value_min=float(tensor.min()),
        value_max=float(tensor.max()),
        checksum=checksum(tensor),
        versions=package_versions(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    meta.pop("json_keys", None)
    encoded = {
        str(k): v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
        for k, v in meta.items()
    }
    encoded["json_keys"] = json.dumps(sorted(str(k) for k, v in meta.items() if not isinstance(v, str)))

    target = Path(path).expanduser()
    if target.is_dir():
        raise UsageError(field, f"{target} is a directory; expected a file name for the memory")

    def write(tmp: str) -> None:
        # Serialised to bytes and written into atomic_write's temporary file (usual umask permissions).
        with open(tmp, "wb") as fh:
            fh.write(save({TENSOR_KEY: tensor}, metadata=encoded))

    try:
        atomic_write(target, write)
    except (PermissionError, SafetensorError, OSError) as exc:
        if isinstance(exc, PermissionError) or "ermission denied" in str(exc):
            raise UsageError(field, f"cannot write {target}: permission denied") from None
        raise UsageError(field, f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from None
    return target


def load_memory(path: str | os.PathLike, field: str = "memory") -> tuple[torch.Tensor, dict]:
    """Read a memory file written by ``save_memory``; verify its checksum; return (patterns, metadata).

    The header is checked before any data is read: the format tag, the metadata (any JSON nesting depth is a
    one-line error), the tensor's dtype and shape against the metadata's N and d. The data is read last and
    must match the checksum. What the metadata's keys mean is checked by their users (``image_side``:
    ``experiments.patterns.PatternSet``).
    """
    p = require_file(path, field)
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            raw = fh.metadata() or {}
            keys = list(fh.keys())
            if raw.get("format") != FORMAT or TENSOR_KEY not in keys:
                raise UsageError(
                    field,
                    f"{p.name} is not a hopfield memory file (no '{FORMAT}' metadata or no 'patterns' tensor)",
                )
            header = fh.get_slice(TENSOR_KEY)
            metadata = _metadata(raw, p, field)
            _check_header(header.get_dtype(), tuple(header.get_shape()), metadata, p, field)
            tensor = fh.get_tensor(TENSOR_KEY)
    except (SafetensorError, OSError, ValueError, RuntimeError, RecursionError) as exc:
        raise UsageError(field, f"{p.name} is not a valid safetensors file or is truncated ({exc})") from None
    if metadata.get("checksum") != checksum(tensor):
        raise UsageError(field, "checksum mismatch: file is corrupt or was edited")
    return tensor, metadata


def _metadata(raw: dict[str, str], p: Path, field: str) -> dict[str, Any]:
    """The metadata with its JSON values decoded; malformed or absurdly nested JSON is one line."""
    try:
        json_keys = set(json.loads(raw.get("json_keys", "[]")))
        return {k: json.loads(v) if k in json_keys else v for k, v in raw.items() if k != "json_keys"}
    except (json.JSONDecodeError, TypeError, RecursionError):
        raise UsageError(
            field, f"{p.name} has malformed metadata; the file is corrupt or was edited"
        ) from None


def _check_header(dtype: str, shape: tuple[int, ...], metadata: dict, p: Path, field: str) -> None:
    """The tensor's dtype and shape (from the header) agree with the format and the metadata."""
    if dtype != "F32" or len(shape) != 2:
        raise UsageError(
            field, f"{p.name}: 'patterns' is {dtype} of shape {shape}; expected 2-D float32 (F32)"
        )
    if (metadata.get("num_patterns"), metadata.get("dim")) != shape:
        raise UsageError(field, f"{p.name}: metadata shape does not match the tensor; the file was edited")
