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


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
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


# --- issue 14: figures a researcher would show ------------------------------------------------------------


def capacity_frame(dims: list[int]):
    import pandas as pd

    rows = []
    for d in dims:
        for model, beta, cap in (("modern", 8.0, 2**d // 100 + 4), ("classical", float("nan"), d // 8)):
            rows.append(
                {
                    "model": model,
                    "beta": beta,
                    "dim": d,
                    "capacity": cap,
                    "capacity_trial_min": cap,
                    "capacity_trial_max": cap + 1,
                    "threshold": 0.9,
                    "fit_log_slope": float("nan"),
                    "fit_log_intercept": float("nan"),
                    "fit_r2": float("nan"),
                    "thm3_n": 10.0 * d if model == "modern" else float("nan"),
                    "thm3_condition": d > 16 if model == "modern" else None,
                    "theory_amit_0138d": 0.138 * d if model == "classical" else float("nan"),
                    "theory_mceliece_d_2logd": d / 8 if model == "classical" else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def test_no_capacity_vs_d_plot_for_a_single_d(tmp_path):
    from hopfield_cli.report.capacity_figures import save_capacity_vs_dim

    assert save_capacity_vs_dim(tmp_path / "c.png", capacity_frame([64]), "setting") is None
    assert not (tmp_path / "c.png").exists()
    assert save_capacity_vs_dim(tmp_path / "c.png", capacity_frame([16, 32, 48]), "setting").is_file()


def test_success_curves_have_one_panel_per_model_on_shared_axes(tmp_path):
    import pandas as pd

    from hopfield_cli.report.capacity_figures import save_success_curves

    rows = [
        {"model": m, "beta": b, "dim": 16, "num_patterns": n, "successes": s, "num_queries": 10}
        for m, b in (("modern", 8.0), ("classical", float("nan")), ("dense", float("nan")))
        for n, s in ((4, 10), (32, 3))
    ]
    path = save_success_curves(tmp_path / "s.png", pd.DataFrame(rows), 0.9, "patterns: binary")
    with Image.open(path) as im:
        three = im.width
    path = save_success_curves(tmp_path / "s1.png", pd.DataFrame(rows[:2]), 0.9, "patterns: binary")
    with Image.open(path) as im:
        assert three > 2 * im.width  # three panels: a NaN beta is one panel per family, not one per row


def test_a_grid_row_is_marked_retrieved_or_not(tmp_path):
    q = torch.rand(2, SIDE * SIDE) * 2 - 1
    path = save_image_grid(
        tmp_path / "g.png", q, q, q, SIDE, row_labels=["a", "b"], ok=[True, False], title="t"
    )
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB")).astype(int)
    green = (rgb[..., 1] > 120) & (rgb[..., 0] < 60) & (rgb[..., 2] < 90)
    red = (rgb[..., 0] > 180) & (rgb[..., 1] < 60)
    assert green.any() and red.any()


def test_a_beta_sweep_over_images_gets_one_row_per_beta(tmp_path):
    import pandas as pd

    from hopfield_cli.report.sweep_figures import ROWS_FILE, save_retrieval_rows

    for job, beta in enumerate((8.0, 0.01, 1.0)):
        folder = tmp_path / str(job)
        folder.mkdir()
        images = np.zeros((2, SIDE * SIDE), dtype=np.float32)
        np.savez(
            folder / "retrieval_grid.npz",
            query=images,
            retrieved=images,
            target=images,
            success=np.array([beta > 0.1, True]),
            kind=np.array(["single" if beta > 0.1 else "global", "single"]),
            side=np.array(SIDE),
            centred=np.array(True),
        )
    summary = pd.DataFrame({"job": [0, 1, 2], "beta": [8.0, 0.01, 1.0], "status": ["ok"] * 3})
    path = save_retrieval_rows(tmp_path, summary, ["beta"])
    assert path == tmp_path / ROWS_FILE and path.is_file()
    assert save_retrieval_rows(tmp_path, summary.head(0), ["beta"]) is None  # nothing to compare
