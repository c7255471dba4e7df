"""Memory files: the stored patterns of one memory in ONE safetensors file (never a pickle).

Layout: the (N, d) tensor under the key ``patterns``, float32 (F32, the default) or float64 (F64, written for
a ``dtype=float64`` run and read back as float64); everything else is safetensors string
metadata. String values are stored as they are; any other value is JSON-encoded and its key listed in
the JSON list ``json_keys``, so ``load_memory`` gives back exactly the types that were saved.

Metadata written by ``save_memory`` (computed keys always describe the tensor being written and
replace any value the caller passes for them):
    format ("hopfield-memory"), format_version, num_patterns, dim, dtype ("float32" or "float64"), value_min,
    value_max, checksum (sha256 of the tensor's bytes, row-major little-endian in its dtype), versions
    (hopfield_cli, torch, safetensors, numpy, python), created (UTC, ISO 8601), json_keys,
and from the caller (None when not given): source, seed, normalisation; plus any other keys the
caller passes (image side, file names, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import struct
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import torch
from safetensors import SafetensorError, safe_open

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


CHUNK_ROWS_BYTES = 64 << 20  # rows hashed, checked or written per block: 64 MiB


# stored dtypes: (safetensors name, metadata name, numpy little-endian code, torch dtype)
STORED = {
    torch.float32: ("F32", "float32", "<f4", torch.float32),
    torch.float64: ("F64", "float64", "<f8", torch.float64),
}
BY_SAFETENSORS = {entry[0]: entry for entry in STORED.values()}


def _stored(dtype: torch.dtype | np.dtype) -> tuple[str, str, str, torch.dtype]:
    """How a tensor of ``dtype`` is stored: float64 as F64, everything else as F32."""
    wide = dtype == torch.float64 or (
        isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize == 8
    )
    return STORED[torch.float64 if wide else torch.float32]


def _row_blocks(array: np.ndarray, code: str = "<f4") -> Iterator[np.ndarray]:
    """Consecutive row blocks of about CHUNK_ROWS_BYTES of a 2-D array, as little-endian views of ``code``
    (a copy of one block only where the array is not already that)."""
    rows = max(1, CHUNK_ROWS_BYTES // max(1, array.shape[1] * np.dtype(code).itemsize))
    for start in range(0, array.shape[0], rows):
        yield np.ascontiguousarray(array[start : start + rows], dtype=code)


def checksum(patterns: torch.Tensor | np.ndarray) -> str:
    """sha256 hex digest of the patterns as row-major little-endian bytes of their stored dtype (float64 for
    float64, else float32), hashed block by block (no copy of the whole tensor: a memory-mapped file is read
    once, in order)."""
    _, _, code, torch_dtype = _stored(patterns.dtype)
    if isinstance(patterns, torch.Tensor):
        patterns = patterns.detach().to("cpu", torch_dtype).contiguous().numpy()
    digest = hashlib.sha256()
    for block in _row_blocks(patterns.reshape(patterns.shape[0], -1), code):
        digest.update(memoryview(block).cast("B"))
    return digest.hexdigest()


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every entry is finite, in row blocks (no (N, d) mask)."""
    rows = max(1, CHUNK_ROWS_BYTES // max(1, tensor.shape[1] * tensor.element_size()))
    return all(bool(torch.isfinite(tensor[i : i + rows]).all()) for i in range(0, tensor.shape[0], rows))


def _write_safetensors(tmp: str, tensor: torch.Tensor, metadata: dict[str, str]) -> None:
    """The safetensors layout written directly, tensor bytes straight from memory in blocks (no serialised
    copy): an 8-byte little-endian header length, the JSON header padded with spaces to 8 bytes, the data."""
    name, _, code, _ = _stored(tensor.dtype)
    nbytes = tensor.numel() * tensor.element_size()
    header = {
        "__metadata__": metadata,
        TENSOR_KEY: {"dtype": name, "shape": list(tensor.shape), "data_offsets": [0, nbytes]},
    }
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for block in _row_blocks(tensor.numpy(), code):
            fh.write(memoryview(block).cast("B"))


def save_memory(
    path: str | os.PathLike, patterns: torch.Tensor, metadata: dict, field: str = "memory"
) -> Path:
    """Write ``patterns`` (N, d) and ``metadata`` to ``path`` atomically; return the path written.

    float64 patterns are stored as float64 (F64, metadata ``dtype`` "float64"), everything else as float32.

    The file is written through ``report.files.atomic_write`` (a temporary file in the same folder with
    the usual umask permissions, fsync'ed, then renamed into place), so a killed run never leaves half a
    memory file. Missing parent folders are created.
    """
    if not isinstance(patterns, torch.Tensor) or patterns.dim() != 2 or 0 in patterns.shape:
        raise ValueError(
            f"patterns must be a non-empty 2-D tensor, got {getattr(patterns, 'shape', type(patterns))}"
        )
    tensor = patterns.detach().to("cpu", _stored(patterns.dtype)[3]).contiguous()
    if not _all_finite(tensor):
        raise ValueError("patterns hold NaN or inf; refusing to store them")

    meta: dict[str, Any] = {key: None for key in CALLER_KEYS}
    meta.update(metadata)
    meta.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        num_patterns=int(tensor.shape[0]),
        dim=int(tensor.shape[1]),
        dtype=_stored(tensor.dtype)[1],
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
        # Written block by block into atomic_write's temporary file (usual umask permissions).
        _write_safetensors(tmp, tensor, encoded)

    try:
        atomic_write(target, write)
    except (PermissionError, SafetensorError, OSError) as exc:
        # safetensors' own error has no errno: a folder this process cannot write is the permission case
        if isinstance(exc, PermissionError) or not os.access(target.parent, os.W_OK):
            raise UsageError(field, f"cannot write {target}: permission denied") from None
        raise UsageError(field, f"cannot write {target}: {getattr(exc, 'strerror', None) or exc}") from None
    return target


def load_memory(path: str | os.PathLike, field: str = "memory") -> tuple[torch.Tensor, dict]:
    """Read a memory file written by ``save_memory``; verify its checksum; return (patterns, metadata).

    The header is checked before any data is read: the format tag, the metadata (any JSON nesting depth is a
    one-line error), the tensor's dtype and shape against the metadata's N and d. The data is read last and
    must match the checksum. What the metadata's keys mean is checked by their users (``image_side``:
    ``experiments.patterns.PatternSet``). The patterns are memory-mapped (copy on write), not read into a second
    buffer: a run holds one copy, the file's pages, which the checksum reads once in order.
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
            shape = tuple(header.get_shape())
            stored = _check_header(header.get_dtype(), shape, metadata, p, field)
        array = _mapped(p, shape, stored[2])
    except (SafetensorError, OSError, ValueError, RuntimeError, RecursionError) as exc:
        raise UsageError(field, f"{p.name} is not a valid safetensors file or is truncated ({exc})") from None
    if metadata.get("checksum") != checksum(array):
        raise UsageError(field, f"{p.name}: checksum mismatch: the file is corrupt or was edited")
    return torch.from_numpy(array), metadata


def _mapped(p: Path, shape: tuple[int, ...], code: str) -> np.ndarray:
    """The 'patterns' tensor of a checked safetensors file, memory-mapped copy-on-write (its offsets from the
    header: 8 bytes of length, the header, then the data at its begin offset)."""
    with open(p, "rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(length))
    begin, end = header[TENSOR_KEY]["data_offsets"]
    if end - begin != np.dtype(code).itemsize * shape[0] * shape[1]:
        raise ValueError(
            f"its data offsets {begin}..{end} do not hold a {shape} {np.dtype(code).name} tensor"
        )
    return np.memmap(p, dtype=code, mode="c", offset=8 + length + begin, shape=shape)


def _metadata(raw: dict[str, str], p: Path, field: str) -> dict[str, Any]:
    """The metadata with its JSON values decoded; malformed or absurdly nested JSON is one line."""
    try:
        json_keys = set(json.loads(raw.get("json_keys", "[]")))
        return {k: json.loads(v) if k in json_keys else v for k, v in raw.items() if k != "json_keys"}
    except (json.JSONDecodeError, TypeError, RecursionError):
        raise UsageError(
            field, f"{p.name} has malformed metadata; the file is corrupt or was edited"
        ) from None


def _check_header(
    dtype: str, shape: tuple[int, ...], metadata: dict, p: Path, field: str
) -> tuple[str, str, str, torch.dtype]:
    """The tensor's dtype and shape (from the header) agree with the format and the metadata (files written
    before float64 memories have no ``dtype`` key: float32). Returns how the tensor is stored."""
    if dtype not in BY_SAFETENSORS or len(shape) != 2:
        raise UsageError(
            field,
            f"{p.name}: 'patterns' is {dtype} of shape {shape}; expected 2-D float32 (F32) or float64 (F64)",
        )
    if (metadata.get("num_patterns"), metadata.get("dim")) != shape:
        raise UsageError(field, f"{p.name}: metadata shape does not match the tensor; the file was edited")
    stored = BY_SAFETENSORS[dtype]
    if metadata.get("dtype", "float32") != stored[1]:
        raise UsageError(
            field, f"{p.name}: metadata dtype does not match the tensor's {dtype}; the file was edited"
        )
    return stored
