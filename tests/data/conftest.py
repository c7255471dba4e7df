"""Shared fixtures for the data tests: seeded generators, group-option specs and images drawn with PIL."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw


@pytest.fixture
def gen():
    """A factory of seeded CPU generators: gen(seed)."""

    def make(seed: int = 0) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    return make


def spec(name: str | None = None, **fields) -> SimpleNamespace:
    """A stand-in for one config group option (a dataclass with ``name`` and its own fields)."""
    return SimpleNamespace(**({} if name is None else {"name": name}), **fields)


def circle(mode: str, size: tuple[int, int]) -> Image.Image:
    """A white disc on black (on transparent for modes with alpha)."""
    background = {"RGB": (0, 0, 0), "RGBA": (0, 0, 0, 0), "L": 0, "P": 0}[mode]
    foreground = {"RGB": (255, 255, 255), "RGBA": (255, 255, 255, 255), "L": 255, "P": 1}[mode]
    im = Image.new(mode, size, background)
    if mode == "P":
        im.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)
    w, h = size
    ImageDraw.Draw(im).ellipse([w * 0.2, h * 0.2, w * 0.8, h * 0.8], fill=foreground)
    return im


def square(mode: str, size: tuple[int, int]) -> Image.Image:
    """A black square on white; with alpha, the white is opaque and the square fully transparent."""
    w, h = size
    if mode == "RGBA":
        im = Image.new("RGBA", size, (255, 255, 255, 255))
        ImageDraw.Draw(im).rectangle([w // 4, h // 4, 3 * w // 4 - 1, 3 * h // 4 - 1], fill=(0, 0, 0, 0))
        return im
    im = Image.new("RGB", size, (255, 255, 255)).convert(mode)
    ImageDraw.Draw(im).rectangle(
        [w // 4, h // 4, 3 * w // 4 - 1, 3 * h // 4 - 1], fill=0 if mode in "LP" else (0, 0, 0)
    )
    return im


def stripes(size: tuple[int, int], period: int = 8) -> Image.Image:
    """Vertical black and white stripes in mode L."""
    w, h = size
    columns = ((np.arange(w) // (period // 2)) % 2 * 255).astype(np.uint8)
    return Image.fromarray(np.tile(columns, (h, 1)), mode="L")


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """A folder of drawn images in several modes, sizes and formats, plus a file that is not an image."""
    folder = tmp_path / "images"
    folder.mkdir()
    circle("RGB", (80, 60)).save(folder / "b_circle_rgb.png")
    square("RGBA", (64, 64)).save(folder / "a_square_rgba.png")
    stripes((100, 100)).save(folder / "d_stripes_l.jpg", quality=95)
    circle("P", (32, 48)).save(folder / "c_circle_p.png")
    square("RGB", (50, 70)).save(folder / "e_square_rgb.JPEG", quality=95)
    (folder / "notes.txt").write_text("not an image")
    return folder
