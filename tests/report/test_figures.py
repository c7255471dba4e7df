"""save_image_grid: a PNG with one row per query and three titled columns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from hopfield_cli.report.figures import save_image_grid

SIDE = 8


def images(b: int, value: float) -> torch.Tensor:
    return torch.full((b, SIDE * SIDE), value)


def test_writes_a_png_with_black_and_white_cells(tmp_path):
    path = save_image_grid(
        tmp_path / "out" / "grid.png", images(3, -1.0), images(3, 0.0), images(3, 1.0), SIDE
    )
    assert path == tmp_path / "out" / "grid.png"
    with Image.open(path) as im:
        assert im.format == "PNG"
        gray = np.asarray(im.convert("L"))
    # vmin=-1, vmax=1 on a gray map: -1 is black, 0 mid-gray, +1 white.
    assert (gray < 10).any() and (gray > 245).any() and ((gray > 120) & (gray < 135)).any()
    assert sorted(p.name for p in path.parent.iterdir()) == ["grid.png"]  # no temp file left


def test_rows_are_capped_by_max_rows(tmp_path):
    def height(b: int, max_rows: int) -> int:
        path = save_image_grid(
            tmp_path / f"g{b}_{max_rows}.png", images(b, 0), images(b, 0), images(b, 0), SIDE, max_rows
        )
        with Image.open(path) as im:
            return im.height

    assert height(20, 8) == height(8, 8) > height(3, 8) > height(1, 8)
    assert height(20, 2) == height(2, 8)


def test_overwrites_and_accepts_any_device_dtype(tmp_path):
    path = tmp_path / "grid.png"
    path.write_bytes(b"old")
    q = torch.rand(2, SIDE * SIDE, dtype=torch.float64) * 2 - 1
    save_image_grid(path, q, q, q, SIDE)
    with Image.open(path) as im:
        assert im.format == "PNG"


def test_shape_errors(tmp_path):
    with pytest.raises(ValueError, match="retrieved"):
        save_image_grid(tmp_path / "g.png", images(2, 0), torch.zeros(2, 10), images(2, 0), SIDE)
    with pytest.raises(ValueError, match="targets|target"):
        save_image_grid(tmp_path / "g.png", images(2, 0), images(2, 0), images(3, 0), SIDE)
    with pytest.raises(ValueError, match="nothing to plot"):
        save_image_grid(tmp_path / "g.png", images(0, 0), images(0, 0), images(0, 0), SIDE)
    assert not (tmp_path / "g.png").exists()
