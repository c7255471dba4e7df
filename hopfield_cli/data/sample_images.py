"""Real images available offline: gray-scale crops of the sample data that matplotlib ships in its wheel.

The blog post of Ramsauer et al. stores 64 x 64 gray images (d = 4096) mapped to [-1, 1] and masks the lower
half of each query. No image may be downloaded at run time, so the memory here is cut from files inside
matplotlib's ``mpl-data/sample_data`` (present in every matplotlib wheel, no network): a photograph
(``grace_hopper.jpg``), an MRI scan (``s1045.ima.gz``, 256 x 256 uint16), a terrain elevation map
(``jacksboro_fault_dem.npz``) and a photograph of a gift (``Minduka_Present_Blue_Pack.png``). Crops of one
source share texture and contrast, as the blog's faces share a common layout.

Retrieval compares a masked query with each image by the dot product (Eq. 3), so an image with more contrast
in its upper half would win for every query. Each half of an image is therefore centred and scaled to the
same spread (std 1/3, clipped to [-1, 1]): the overlap of a lower-half-masked query with an image is then
proportional to the cosine of their upper halves, and "the right image" is the one whose upper half matches.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image

SIDE = 64
# source file -> crop boxes (left, top, size) in source pixels; 24 images in all, as in the blog figure
CROPS: dict[str, list[tuple[int, int, int]]] = {
    "grace_hopper.jpg": [(x, y, 200) for y in (0, 133, 266, 400) for x in (0, 312)],
    "s1045.ima.gz": [(x, y, 110) for y in (0, 73, 146) for x in (0, 146)],
    "jacksboro_fault_dem.npz": [(x, y, 150) for y in (0, 194) for x in (0, 126, 253)],
    "Minduka_Present_Blue_Pack.png": [(x, y, 60) for y in (0, 68) for x in (0, 68)],
}


def sample_folder() -> Path:
    """matplotlib's sample data folder (inside the installed wheel)."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "sample_data"


def _source(name: str) -> np.ndarray:
    """A source image as a float gray array (H, W)."""
    path = sample_folder() / name
    if name.endswith(".ima.gz"):
        with gzip.open(path, "rb") as fh:
            return np.frombuffer(fh.read(), dtype="<u2").reshape(256, 256).astype(np.float64)
    if name.endswith(".npz"):
        with np.load(path) as data:
            return np.asarray(data["elevation"], dtype=np.float64)
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float64)


def _crop(image: np.ndarray, left: int, top: int, size: int, side: int) -> np.ndarray:
    """A square crop (clipped to the image) resized to side x side, each half centred, std 1/3, in [-1, 1]."""
    h, w = image.shape
    size = min(size, h - top, w - left)
    part = image[top : top + size, left : left + size]
    lo, hi = float(part.min()), float(part.max())
    unit = (part - lo) / (hi - lo) if hi > lo else np.zeros_like(part)
    pil = Image.fromarray((unit * 255.0).astype(np.uint8)).resize((side, side), Image.Resampling.LANCZOS)
    gray = np.asarray(pil, dtype=np.float64)
    for half in (slice(0, side // 2), slice(side // 2, side)):
        part = gray[half] - gray[half].mean()
        spread = part.std()
        gray[half] = np.clip(part / (3.0 * spread), -1.0, 1.0) if spread > 0 else 0.0
    return np.round(gray * 127.5) / 127.5  # 8-bit levels, as a PNG written from them holds


def sample_images(side: int = SIDE) -> tuple[np.ndarray, list[str]]:
    """(24, side, side) gray images in [-1, 1] (8-bit levels, as a PNG holds them) and their names."""
    images, names = [], []
    for source, boxes in CROPS.items():
        image = _source(source)
        stem = source.split(".")[0].lower()
        for i, (left, top, size) in enumerate(boxes):
            images.append(_crop(image, left, top, size, side))
            names.append(f"{stem}_{i}")
    return np.stack(images), names
