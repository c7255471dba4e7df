"""Read user data: a matrix of patterns (.npy, .csv, .safetensors, .pt/.pth) or a folder of images.

Every problem the user can fix (missing file, wrong shape, NaN, a pickle with code in it, ...) becomes a
``UsageError(field, message)`` with a one-line message. Patterns come back as ROWS: float32, shape (N, d).

Nothing here ever unpickles arbitrary objects: ``.npy`` is read with ``allow_pickle=False`` and ``.pt``
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import csv
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from safetensors import SafetensorError, safe_open

from hopfield_cli.errors import UsageError

MATRIX_SUFFIXES = (".npy", ".csv", ".safetensors", ".pt", ".pth")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
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


def require_folder(path: str | os.PathLike, field: str) -> Path:
    """Return ``path`` as a Path if it names a readable folder; else raise UsageError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise UsageError(field, f"no such folder: {p}")
    if not p.is_dir():
        raise UsageError(field, f"{p} is a file; expected a folder of PNG/JPEG images")
    if not os.access(p, os.R_OK | os.X_OK):
        raise UsageError(field, f"cannot read folder {p}: permission denied")
    return p


# ---------------------------------------------------------------------------------------------- matrices


def load_matrix(path: str | os.PathLike, field: str = "patterns.path") -> torch.Tensor:
    """Load a 2-D numeric matrix (patterns as rows) from .npy, .csv, .safetensors or .pt/.pth.

    Integers and bools are converted to float32; complex, string and object data are refused, as are
    arrays that are not 2-D, empty, or hold NaN/inf. Returns a float32 CPU tensor of shape (N, d).
    """
    p = require_file(path, field)
    suffix = require_suffix(p, MATRIX_SUFFIXES, field)
    if suffix == ".npy":
        data = _read_npy(p, field)
    elif suffix == ".csv":
        data = _read_csv(p, field)
    elif suffix == ".safetensors":
        data = _read_safetensors(p, field)
    else:
        data = _read_torch(p, field)
    return as_pattern_matrix(data, field, what=p.name)


def as_pattern_matrix(data: np.ndarray | torch.Tensor, field: str, what: str = "array") -> torch.Tensor:
    """Check that ``data`` is a finite, real, non-empty 2-D array and return it as float32 (N, d)."""
    if isinstance(data, np.ndarray):
        kind = data.dtype.kind
        if kind == "c":
            raise UsageError(field, f"{what} has complex dtype {data.dtype}; expected real numbers")
        if kind not in "biuf":
            raise UsageError(field, f"{what} has non-numeric dtype {data.dtype}; expected real numbers")
        tensor = torch.from_numpy(np.array(data, dtype=np.float64 if kind == "f" else np.float32, order="C"))
    elif isinstance(data, torch.Tensor):
        if data.is_complex():
            raise UsageError(field, f"{what} has complex dtype {data.dtype}; expected real numbers")
        tensor = data.detach().cpu()
        if not (tensor.is_floating_point() or tensor.dtype == torch.bool or _is_integer(tensor.dtype)):
            raise UsageError(field, f"{what} has unsupported dtype {data.dtype}; expected real numbers")
    else:
        raise UsageError(field, f"{what} holds a {type(data).__name__}; expected a numeric array")

    if tensor.dim() != 2:
        raise UsageError(
            field,
            f"{what} has shape {tuple(tensor.shape)}; expected a 2-D array (N patterns as rows, d columns)",
        )
    if tensor.shape[0] == 0 or tensor.shape[1] == 0:
        raise UsageError(field, f"{what} is empty: shape {tuple(tensor.shape)}")
    if tensor.is_floating_point():
        _require_finite(tensor, field, what, "")
    out = tensor.to(torch.float32).contiguous()
    # float64 values beyond float32's range become inf on conversion.
    _require_finite(out, field, what, " after conversion to float32 (values beyond +-3.4e38)")
    return out


def _is_integer(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


def _require_finite(tensor: torch.Tensor, field: str, what: str, note: str) -> None:
    bad = ~torch.isfinite(tensor)
    count = int(bad.sum())
    if count:
        row, col = (int(i) for i in bad.nonzero()[0])
        raise UsageError(
            field,
            f"{what} has {count} non-finite value(s) (NaN or inf){note}; the first at row {row}, column {col} (0-based)",
        )


def _read_npy(p: Path, field: str) -> np.ndarray:
    try:
        data = np.load(p, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
            raise UsageError(
                field, f"{p.name} holds Python objects (dtype object); expected a numeric array"
            ) from None
        raise UsageError(field, f"{p.name} is not a valid .npy file or is truncated ({exc})") from None
    except (OSError, EOFError) as exc:
        raise UsageError(field, f"{p.name} is not a valid .npy file or is truncated ({exc})") from None
    if not isinstance(data, np.ndarray):  # np.load returns an NpzFile for zip archives
        if hasattr(data, "close"):
            data.close()
        raise UsageError(field, f"{p.name} is an .npz archive, not a single .npy array")
    return data


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(p: Path, field: str) -> np.ndarray:
    """Comma-separated numbers; a first row without a single number is a header and is skipped."""
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = [(line_no, row) for line_no, row in enumerate(csv.reader(fh), start=1)]
    except UnicodeDecodeError:
        raise UsageError(field, f"{p.name} is not a UTF-8 text file") from None
    except csv.Error as exc:
        raise UsageError(field, f"{p.name} is not a valid CSV file ({exc})") from None
    rows = [(n, [cell.strip() for cell in row]) for n, row in rows if any(cell.strip() for cell in row)]
    if rows and all(_parse_number(cell) is None for cell in rows[0][1]):
        rows = rows[1:]  # header
    if not rows:
        raise UsageError(field, f"{p.name} has no data rows")
    width = len(rows[0][1])
    values = np.empty((len(rows), width), dtype=np.float64)
    for i, (line_no, row) in enumerate(rows):
        if len(row) != width:
            raise UsageError(
                field, f"{p.name} line {line_no} has {len(row)} columns; the first data row has {width}"
            )
        for j, cell in enumerate(row):
            number = _parse_number(cell)
            if number is None:
                shown = repr(cell) if cell else "an empty cell"
                raise UsageError(field, f"{p.name} line {line_no}, column {j + 1}: {shown} is not a number")
            values[i, j] = number
    return values


def _read_safetensors(p: Path, field: str) -> torch.Tensor:
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            keys = list(fh.keys())
            if not keys:
                raise UsageError(field, f"{p.name} holds no tensors")
            if "patterns" in keys:
                key = "patterns"
            elif len(keys) == 1:
                key = keys[0]
            else:
                shown = ", ".join(sorted(keys)[:8]) + (", ..." if len(keys) > 8 else "")
                raise UsageError(
                    field, f"{p.name} holds {len(keys)} tensors ({shown}); name the one to use 'patterns'"
                )
            return fh.get_tensor(key)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise UsageError(field, f"{p.name} is not a valid safetensors file or is truncated ({exc})") from None


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


def _read_torch(p: Path, field: str) -> torch.Tensor:
    obj = safe_torch_load(p, field)
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, dict):
        if "patterns" in obj:
            value = obj["patterns"]
            if not isinstance(value, torch.Tensor):
                raise UsageError(field, f"{p.name}: 'patterns' holds a {type(value).__name__}, not a tensor")
            return value
        tensors = [v for v in obj.values() if isinstance(v, torch.Tensor)]
        if len(tensors) == 1:
            return tensors[0]
        raise UsageError(
            field,
            f"{p.name} holds a dict with {len(tensors)} tensors; expected one, or one under the key 'patterns'",
        )
    raise UsageError(
        field, f"{p.name} holds a {type(obj).__name__}; expected a tensor or a dict with 'patterns'"
    )


# ------------------------------------------------------------------------------------------------ images


def load_images(
    folder: str | os.PathLike, side: int = 64, field: str = "patterns.path"
) -> tuple[torch.Tensor, list[str]]:
    """Load every PNG/JPEG in ``folder`` (sorted by file name) as gray-scale patterns in [-1, 1].

    Each image is converted to 8-bit gray scale ('L'; transparent pixels are composited onto white,
    16-bit gray is scaled down, not clipped), resized to ``side`` x ``side`` with the Lanczos filter
    (the aspect ratio is NOT kept) and mapped 0..255 -> -1..1, as in the paper's blog figures
    (64 x 64, d = 4096). Files with other extensions are ignored.

    Returns (patterns (N, side*side) float32, file names).
    """
    side_field = field.rsplit(".", 1)[0] + ".side" if "." in field else "side"
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise UsageError(side_field, f"must be a positive integer, got {side!r}")
    root = require_folder(folder, field)
    files = sorted(
        (f for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()),
        key=lambda f: f.name,
    )
    if not files:
        raise UsageError(field, f"no PNG or JPEG images in {root}")
    rows = np.empty((len(files), side * side), dtype=np.float32)
    for i, f in enumerate(files):
        rows[i] = _read_gray(f, side, field).reshape(-1)
    return torch.from_numpy(rows * (2.0 / 255.0) - 1.0), [f.name for f in files]


def _read_gray(f: Path, side: int, field: str) -> np.ndarray:
    """One image as a (side, side) float32 array of gray values 0..255."""
    try:
        with Image.open(f) as im:
            im.load()
            gray = _to_gray(im)
            gray = gray.resize((side, side), Image.Resampling.LANCZOS) if gray.size != (side, side) else gray
            return np.asarray(gray, dtype=np.float32)
    except PermissionError:
        raise UsageError(field, f"cannot read {f}: permission denied") from None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise UsageError(field, f"cannot read image {f.name}: {exc}") from None


def _to_gray(im: Image.Image) -> Image.Image:
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):
        # 16-bit gray (PNG opens as I;16 or I): convert('L') would clip at 255, so scale instead.
        # Mode F (32-bit float) is taken to hold 0..255 already.
        arr = np.nan_to_num(np.asarray(im, dtype=np.float64))
        scale = 1.0 if im.mode == "F" else 257.0
        return Image.fromarray(np.clip(np.rint(arr / scale), 0, 255).astype(np.uint8), mode="L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return im.convert("L")
