"""Read user patterns: a matrix (.npy, .csv, .safetensors, .pt/.pth) or a folder of images.

Every problem the user can fix (missing file, wrong shape, NaN, ...) becomes a ``UsageError(field,
message)`` with a one-line message. Patterns come back as ROWS, shape (N, d), in the run's storage dtype
(``storage_dtype``): float32 by default, float64 for a ``dtype=float64`` run, so float64 data keeps every digit
from the file to the table. Files are read by ``readers.read_array`` (never unpickling arbitrary objects); this
module checks what they hold.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from hopfield_cli.data.readers import read_array
from hopfield_cli.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def storage_dtype(dtype: torch.dtype | str | None) -> torch.dtype:
    """The dtype patterns and queries are held in for a run of ``dtype``: float64 for float64 runs (nothing
    narrowed on the way in), float32 for every other (half runs convert on the device)."""
    return torch.float64 if dtype in (torch.float64, "float64") else torch.float32


# ---------------------------------------------------------------------------------------------- matrices


def load_matrix(
    path: str | os.PathLike, field: str = "patterns.path", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Load a 2-D numeric matrix (patterns as rows) from .npy, .csv, .safetensors or .pt/.pth.

    Integers and bools are converted to ``dtype`` (float32, or float64 for a float64 run: ``storage_dtype``);
    complex, string and object data are refused, as are arrays that are not 2-D, empty, or hold NaN/inf. A
    file of several tensors gives the one named ``patterns``. Returns a CPU tensor of shape (N, d).
    """
    data = read_array(path, field, names=("patterns",))
    return as_pattern_matrix(data, field, what=Path(path).expanduser().name, dtype=dtype)


def as_pattern_matrix(
    data: np.ndarray | torch.Tensor, field: str, what: str = "array", dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Check that ``data`` is a finite, real, non-empty 2-D array and return it as ``dtype`` (N, d).

    float32: float32 data is used as it is (no copy); float64 is checked in float64 before it is narrowed, so
    values beyond float32's range are named; float8, float16 and integers are widened to float32. float64:
    float64 data is kept as it is, everything else widened (exactly).
    """
    if isinstance(data, np.ndarray):
        kind = data.dtype.kind
        if kind == "c":
            raise UsageError(field, f"{what} has complex dtype {data.dtype}; expected real numbers")
        if kind not in "biuf":
            raise UsageError(field, f"{what} has non-numeric dtype {data.dtype}; expected real numbers")
        # float64 (or longer), or any data of a float64 run: float64 first (narrowed after the checks)
        wide = (kind == "f" and data.dtype.itemsize > 4) or storage_dtype(dtype) == torch.float64
        target = np.float64 if wide else (data.dtype if kind == "f" else np.float32)
        tensor = torch.from_numpy(np.asarray(data, dtype=target, order="C"))  # keeps a 0-d shape
    elif isinstance(data, torch.Tensor):
        if data.is_complex():
            raise UsageError(field, f"{what} has complex dtype {data.dtype}; expected real numbers")
        tensor = data.detach().cpu()
        if not (tensor.is_floating_point() or tensor.dtype == torch.bool or _is_integer(tensor.dtype)):
            raise UsageError(field, f"{what} has unsupported dtype {data.dtype}; expected real numbers")
        if tensor.is_floating_point() and tensor.dtype not in (torch.float16, torch.bfloat16, torch.float64):
            # float8 and friends have no isfinite; every one of their values is a float32 (exactly)
            try:
                tensor = tensor.to(torch.float32)
            except (RuntimeError, TypeError, NotImplementedError):
                raise UsageError(
                    field, f"{what} has dtype {data.dtype}, which cannot be read as numbers"
                ) from None
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
    target = storage_dtype(dtype)
    narrowed = tensor.dtype == torch.float64 and target != torch.float64
    out = tensor.to(target).contiguous()
    if narrowed:  # float64 values beyond float32's range become inf on conversion.
        _require_finite(out, field, what, " after conversion to float32 (values beyond +-3.4e38)")
    elif out.dtype == torch.float64 and out.numel():
        # the core scales norms up to 1e154 (the energy ~ M^2 must fit float64): name the file, not the core's
        # "patterns", where a float64 run reads values beyond that
        largest = float(out.abs().max()) * math.sqrt(out.shape[1])
        if largest > MAX_NORM:
            raise UsageError(
                field,
                f"{what} has rows of norm up to {largest:.3g}: beyond float32's range (+-3.4e38) and beyond the "
                f"norms up to {MAX_NORM:.0e} whose energies (~ M^2) fit float64; rescale the data",
            )
    return out


MAX_NORM = 1e154  # core.scaling: the largest pattern norm whose energy terms fit float64


def _is_integer(dtype: torch.dtype) -> bool:
    return not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool


FINITE_ROWS_ELEMENTS = 1 << 22  # rows checked at a time: the boolean mask stays a few MiB


def _require_finite(tensor: torch.Tensor, field: str, what: str, note: str) -> None:
    """Refuse NaN/inf, counting them and naming the first (row, column); checked in row blocks."""
    step = max(1, FINITE_ROWS_ELEMENTS // max(1, tensor.shape[1]))
    count, first = 0, None
    for start in range(0, tensor.shape[0], step):
        bad = ~torch.isfinite(tensor[start : start + step])
        found = int(bad.sum())
        if found and first is None:
            row, col = (int(i) for i in bad.nonzero()[0])
            first = (start + row, col)
        count += found
    if count:
        row, col = first
        raise UsageError(
            field,
            f"{what} has {count} non-finite value(s) (NaN or inf){note}; the first at row {row}, column {col} (0-based)",
        )


# ------------------------------------------------------------------------------------------------ images


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


def image_files(folder: str | os.PathLike, field: str = "patterns.path") -> list[Path]:
    """The PNG/JPEG files of ``folder`` (the patterns ``load_images`` reads), sorted by name."""
    root = require_folder(folder, field)
    return sorted(
        (f for f in root.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()),
        key=lambda f: f.name,
    )


def load_images(
    folder: str | os.PathLike,
    side: int = 64,
    field: str = "patterns.path",
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, list[str]]:
    """Load every PNG/JPEG in ``folder`` (sorted by file name) as gray-scale patterns in [-1, 1].

    Each image is converted to 8-bit gray scale ('L'; transparent pixels are composited onto white,
    16-bit gray is scaled down, not clipped), resized to ``side`` x ``side`` with the Lanczos filter
    (the aspect ratio is NOT kept) and mapped 0..255 -> -1..1, as in the paper's blog figures
    (64 x 64, d = 4096). Files with other extensions are ignored.

    Returns (patterns (N, side*side) in ``storage_dtype(dtype)``, file names).
    """
    side_field = field.rsplit(".", 1)[0] + ".side" if "." in field else "side"
    if isinstance(side, bool) or not isinstance(side, int) or side < 1:
        raise UsageError(side_field, f"must be a positive integer, got {side!r}")
    files = image_files(folder, field)
    root = Path(folder).expanduser()
    if not files:
        raise UsageError(field, f"no PNG or JPEG images in {root}")
    rows = np.empty((len(files), side * side), dtype=np.float32)
    for i, f in enumerate(files):
        rows[i] = _read_gray(f, side, field).reshape(-1)
    if storage_dtype(dtype) == torch.float64:  # the gray levels g / 127.5 - 1 to float64's rounding
        return torch.from_numpy(rows.astype(np.float64) / 127.5 - 1.0), [f.name for f in files]
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
