"""The one reader of tensor files: .npy, .csv, .safetensors and .pt/.pth, for patterns, queries and attention.

Every problem the user can fix (missing file, wrong extension, truncated data, a pickle with code in it,
an ambiguous choice of tensor, ...) becomes a ``UsageError(field, message)`` with a one-line message.
Nothing here ever unpickles arbitrary objects: ``.npy`` is read with ``allow_pickle=False`` and ``.pt``
with ``torch.load(weights_only=True)``. What the array must look like (2-D patterns, 4-D attention
probabilities) is checked by the caller (``loaders.as_pattern_matrix``, ``attention_file.load_attention``).
"""

from __future__ import annotations

import ast
import math
import os
import pickle
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open

from hopfield_cli.data.csv_text import csv_shape, read_csv
from hopfield_cli.errors import UsageError

TENSOR_SUFFIXES = (".npy", ".csv", ".safetensors", ".pt", ".pth")
PICKLE_REFUSED = "not a tensor file; refusing to unpickle arbitrary objects"


def require_file(path: str | os.PathLike, field: str) -> Path:
    """Return ``path`` as a Path if it names a readable, non-empty regular file; else raise UsageError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(field, f"no such file: {p}")
    if p.is_dir():
        raise UsageError(field, f"{p} is a directory; expected a file")
    if not p.is_file():
        raise UsageError(field, f"{p} is not a regular file")
    try:
        with open(p, "rb") as fh:
            first = fh.read(1)
    except PermissionError:
        raise UsageError(field, f"cannot read {p}: permission denied") from None
    except OSError as exc:
        raise UsageError(field, f"cannot read {p}: {exc.strerror or exc}") from None
    if not first:
        raise UsageError(field, f"{p} is empty")
    return p


def require_suffix(p: Path, allowed: tuple[str, ...], field: str) -> str:
    """The lower-case extension of ``p`` if it is one of ``allowed``, else a UsageError listing them."""
    suffix = p.suffix.lower()
    if suffix not in allowed:
        raise UsageError(
            field,
            f"unsupported extension '{p.suffix or '(none)'}' of {p.name}; use one of {', '.join(allowed)}",
        )
    return suffix


def read_array(
    path: str | os.PathLike,
    field: str,
    *,
    names: tuple[str, ...],
    suffixes: tuple[str, ...] = TENSOR_SUFFIXES,
    sequences: bool = False,
) -> np.ndarray | torch.Tensor | list[torch.Tensor]:
    """Read the one array that the file at ``path`` holds, unchecked in shape, dtype and values.

    A file of several tensors (.safetensors, or a dict in .pt) gives the first of ``names`` it holds, or
    its only tensor; ``names[0]`` is the name suggested when the choice is ambiguous. With ``sequences``
    a .pt file may also hold a list or tuple of tensors (e.g. per-layer attention), returned as a list.
    """
    p = require_file(path, field)
    suffix = require_suffix(p, suffixes, field)
    if suffix == ".npy":
        return _read_npy(p, field)
    if suffix == ".csv":
        return read_csv(p, field)
    if suffix == ".safetensors":
        return _read_safetensors(p, field, names)
    return _read_torch(p, field, names, sequences)


def human_bytes(n: int) -> str:
    """A byte count for a message: 3.55 PiB, 12 MiB, 64 B."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.3g} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"


def npy_header(p: Path, field: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from an .npy header, checked against the file's size before any data is read.

    A header that claims more data than the file holds (a truncated file, or an edited header that would make
    np.load allocate petabytes) is a one-line UsageError naming ``field``; so are object and structured dtypes.
    """
    try:
        with open(p, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:  # 3.0: the 2.0 layout with a utf-8 header
                (length,) = struct.unpack("<I", fh.read(4))
                if length > 1 << 20:
                    raise ValueError(f"a header of {length} bytes")
                header = ast.literal_eval(fh.read(length).decode("utf-8"))
                shape, dtype = header["shape"], np.lib.format.descr_to_dtype(header["descr"])
            offset = fh.tell()
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise ValueError(f"shape {shape!r}")
    except (
        ValueError,
        OSError,
        EOFError,
        SyntaxError,
        TypeError,
        KeyError,
        RecursionError,
        struct.error,
    ) as exc:
        if zipfile_magic(p):
            raise UsageError(field, f"{p.name} is an .npz archive, not a single .npy array") from None
        raise UsageError(field, f"{p.name} is not a valid .npy file or is truncated ({exc})") from None
    if dtype.hasobject:
        raise UsageError(field, f"{p.name} holds Python objects (dtype object); expected a numeric array")
    if dtype.names is not None or dtype.subdtype is not None:
        raise UsageError(field, f"{p.name} has a structured dtype {dtype}; expected plain numbers")
    need = math.prod(shape) * dtype.itemsize
    have = p.stat().st_size - offset
    if need > have:
        raise UsageError(
            field,
            f"{p.name}: its header says shape {tuple(shape)} of {dtype} ({human_bytes(need)}) but the file holds "
            f"{human_bytes(max(have, 0))} of data; it is truncated or its header is wrong",
        )
    return tuple(int(n) for n in shape), dtype


def zipfile_magic(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(4) == b"PK\x03\x04"


def header_info(path: str | os.PathLike, field: str, names: tuple[str, ...]) -> tuple[tuple[int, ...], int]:
    """(shape, bytes per stored entry) of the array ``read_array`` would return, from the file's header alone:
    .npy and .safetensors headers, a .pt file's pickle with its storages mapped (not read), a .csv's lines and
    first row (a bound; its cells are parsed into float64). Raises what ``read_array`` would for a header that
    is malformed or claims more data than the file holds; a legacy .pt is bounded by its size."""
    p = require_file(path, field)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        shape, dtype = npy_header(p, field)
        return shape, dtype.itemsize
    if suffix == ".safetensors":
        with _open_safetensors(p, field) as fh:
            entry = fh.get_slice(_safetensors_key(p, field, list(fh.keys()), names))
            return tuple(entry.get_shape()), _SAFETENSORS_BYTES.get(entry.get_dtype(), 8)
    if suffix == ".csv":
        return csv_shape(p), 8
    try:  # a zip-format file maps its storages: only the small pickle is read
        obj = torch.load(p, weights_only=True, map_location="cpu", mmap=True)
        tensor = _pick_torch(obj, p, field, names, sequences=True)
    except Exception:  # legacy or damaged: read_array reports the damage; bounded by the size meanwhile
        return (max(1, p.stat().st_size // 4),), 4
    if isinstance(tensor, list):
        return (len(tensor), *tensor[0].shape), tensor[0].element_size()
    return tuple(tensor.shape), tensor.element_size()


_SAFETENSORS_BYTES = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2}


def _read_npy(p: Path, field: str) -> np.ndarray:
    npy_header(p, field)  # shape, dtype and size first: never allocate what the file does not hold
    try:
        data = np.load(p, allow_pickle=False)
    except (
        ValueError,
        OSError,
        EOFError,
    ) as exc:  # object dtypes were refused by npy_header, from the header
        raise UsageError(field, f"{p.name} is not a valid .npy file or is truncated ({exc})") from None
    if not isinstance(data, np.ndarray):  # np.load returns an NpzFile for zip archives
        if hasattr(data, "close"):
            data.close()
        raise UsageError(field, f"{p.name} is an .npz archive, not a single .npy array")
    if not data.dtype.isnative:  # big-endian exports (FITS, MATLAB, HDF5): torch reads native order only
        data = data.astype(data.dtype.newbyteorder("="))
    return data


# safetensors dtypes that torch reads as real numbers (float8 and unsigned ones are widened by the callers)
SAFETENSORS_REAL = frozenset(
    {
        "F64",
        "F32",
        "F16",
        "BF16",
        "F8_E4M3",
        "F8_E5M2",
        "I64",
        "I32",
        "I16",
        "I8",
        "U64",
        "U32",
        "U16",
        "U8",
        "BOOL",
    }
)


@contextmanager
def _open_safetensors(p: Path, field: str) -> Iterator[Any]:
    """safe_open reads and checks the header only (offsets within the file); errors become one line."""
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            yield fh
    except (SafetensorError, OSError, ValueError, RuntimeError, RecursionError) as exc:
        raise UsageError(field, f"{p.name} is not a valid safetensors file or is truncated ({exc})") from None


def _safetensors_key(p: Path, field: str, keys: list[str], names: tuple[str, ...]) -> str:
    if not keys:
        raise UsageError(field, f"{p.name} holds no tensors")
    key = next((name for name in names if name in keys), keys[0] if len(keys) == 1 else None)
    if key is None:
        shown = ", ".join(sorted(keys)[:8]) + (", ..." if len(keys) > 8 else "")
        raise UsageError(
            field, f"{p.name} holds {len(keys)} tensors ({shown}); name the one to use '{names[0]}'"
        )
    return key


def _read_safetensors(p: Path, field: str, names: tuple[str, ...]) -> torch.Tensor:
    with _open_safetensors(p, field) as fh:
        key = _safetensors_key(p, field, list(fh.keys()), names)
        dtype = fh.get_slice(key).get_dtype()  # from the header, before any data is read
        if dtype not in SAFETENSORS_REAL:
            raise UsageError(field, f"{p.name}: '{key}' has dtype {dtype}; expected real numbers")
        return fh.get_tensor(key)


def safe_torch_load(p: Path, field: str) -> object:
    """``torch.load`` that never runs code from the file (weights_only) and reports failures as one line."""
    try:
        return torch.load(p, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError:
        # weights_only refuses any global outside torch's allow-list: the file wants to build objects.
        raise UsageError(field, f"{p.name} is {PICKLE_REFUSED}") from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise UsageError(
            field, f"{p.name} is not a valid torch file or is truncated ({type(exc).__name__})"
        ) from None


def _is_tensor_list(obj: object) -> bool:
    return isinstance(obj, (list, tuple)) and bool(obj) and all(isinstance(t, torch.Tensor) for t in obj)


def _read_torch(
    p: Path, field: str, names: tuple[str, ...], sequences: bool
) -> torch.Tensor | list[torch.Tensor]:
    return _pick_torch(safe_torch_load(p, field), p, field, names, sequences)


def _pick_torch(
    obj: object, p: Path, field: str, names: tuple[str, ...], sequences: bool
) -> torch.Tensor | list[torch.Tensor]:
    """The tensor (or, with ``sequences``, list of tensors) a loaded .pt object holds, as ``read_array`` says."""

    def accepted(obj: object) -> bool:
        return isinstance(obj, torch.Tensor) or (sequences and _is_tensor_list(obj))

    if accepted(obj):
        return list(obj) if isinstance(obj, (list, tuple)) else obj
    wanted = f"a tensor{', a list of tensors' if sequences else ''} or a dict with '{names[0]}'"
    if not isinstance(obj, dict):
        raise UsageError(field, f"{p.name} holds a {type(obj).__name__}; expected {wanted}")
    name = next((name for name in names if name in obj), None)
    if name is not None:
        value = obj[name]
        if not accepted(value):
            raise UsageError(field, f"{p.name}: '{name}' holds a {type(value).__name__}, not a tensor")
        return list(value) if isinstance(value, (list, tuple)) else value
    tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
    if len(tensors) == 1:
        return tensors[0]
    raise UsageError(
        field,
        f"{p.name} holds a dict with {len(tensors)} tensors; expected one, or one under the key '{names[0]}'",
    )
