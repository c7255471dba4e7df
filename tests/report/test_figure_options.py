"""Figures fit for a paper (issue 25, item 6): figures.format and figures.dpi through the one save, the image
grid's title counting the whole run, --info once, --hydra-help without Hydra's -sc completion."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure
from PIL import Image

from hopfield_cli.app.run.launch import without_hydra_completion
from hopfield_cli.report.figure_format import figure_settings
from hopfield_cli.report.figures import save


def _figure() -> Figure:
    fig = Figure(figsize=(2, 1))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_one_save_writes_the_chosen_format_and_dpi(tmp_path):
    assert save(_figure(), tmp_path / "a.png").suffix == ".png"
    with figure_settings("pdf"):
        pdf = save(_figure(), tmp_path / "b.png")
    assert pdf.name == "b.pdf" and pdf.read_bytes()[:4] == b"%PDF"
    with figure_settings("svg"):
        assert b"<svg" in save(_figure(), tmp_path / "c.png").read_bytes()[:400]
    with figure_settings("png", 200):
        assert Image.open(save(_figure(), tmp_path / "d.png")).size == (400, 200)


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_a_run_writes_its_figures_as_svg(run_cli, tmp_path):
    out = tmp_path / "run"
    ran = run_cli(
        "metastable-scan",
        "num_patterns=8",
        "dim=8",
        "num_queries=4",
        "num_betas=3",
        "figures.format=svg",
        f"hydra.run.dir={out}",
    )
    assert ran.returncode == 0, ran.stderr
    assert sorted(p.name for p in out.glob("*.svg")) and not list(out.glob("*.png"))
    bad = run_cli("retrieve", "figures.format=jpg", f"hydra.run.dir={tmp_path / 'x'}")
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "error: figures.format: must be one of png, pdf, svg; got 'jpg'"
    )


def test_image_grid_title_counts_every_image(run_cli, tmp_path, monkeypatch):
    from hopfield_cli.report import figures

    titles = []
    real = figures.save_image_grid
    monkeypatch.setattr(
        figures, "save_image_grid", lambda *a, **k: titles.append(k["title"]) or real(*a, **k)
    )
    import numpy as np

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(12):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(folder / f"{k:02d}.png")
    out = tmp_path / "run"
    ran = run_cli(
        "retrieve",
        "patterns=images",
        f"patterns.path={folder}",
        "patterns.side=8",
        "corruption=mask_lower_half",
        "num_queries=12",
        "grid_rows=3",
        f"hydra.run.dir={out}",
    )
    assert ran.returncode == 0, ran.stderr
    assert titles and " of 12 images retrieved; first 3 shown" in titles[0]


def test_hydra_help_does_not_offer_its_completion():
    text = '--multirun,-m : x\n--shell-completion,-sc : Install\n    eval "$(a -sc install=bash)"\n\n--config-path,-cp : y\n'
    cleaned = without_hydra_completion(text)
    assert "-sc" not in cleaned and cleaned.startswith("--multirun") and "--config-path" in cleaned
    assert "hopfield --completion" in cleaned


@pytest.mark.slow  # a real process: Hydra's --info configures the root logger
def test_info_prints_each_line_once(run_cli_process):
    proc = run_cli_process("retrieve", "--info", "plugins")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0 and lines
    assert not any(line.startswith("[") and "][HYDRA]" in line for line in lines)
    assert lines.count("Installed Hydra Plugins") == 1


def test_collect_merges_a_folder_of_single_runs(run_cli, tmp_path):
    import pandas as pd

    runs = tmp_path / "outputs"
    for beta in (1, 16):
        ran = run_cli(
            "retrieve",
            "num_patterns=20",
            "dim=8",
            "num_queries=4",
            f"beta={beta}",
            f"hydra.run.dir={runs}/b{beta}",
        )
        assert ran.returncode == 0, ran.stderr
    merged = run_cli("collect", str(runs))
    assert merged.returncode == 0, merged.stderr
    summary = pd.read_csv(runs / "summary.csv")
    assert sorted(summary["beta"]) == [1, 16] and set(summary["status"]) == {"ok"}
    assert len(pd.read_parquet(runs / "results.parquet")) == 8


def test_blog_images_are_found_wherever_hopfield_is_installed(tmp_path, monkeypatch):
    from pathlib import Path

    from hopfield_cli.data import blog_images
    from tests.conftest import compose

    cfg = compose("retrieve", "experiment=blog_images")
    assert len(list(Path(cfg.patterns.path).glob("*.png"))) == 24  # the clone's (or the wheel's) folder
    monkeypatch.setattr(blog_images, "PACKAGED", tmp_path / "none")  # neither wheel nor clone: written once
    monkeypatch.setattr(blog_images, "CLONE", tmp_path / "none")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = Path(blog_images.sample_images_folder())
    assert folder == tmp_path / "cache" / "hopfield" / "sample_images"
    written = sorted(p.name for p in folder.glob("*.png"))
    assert written == sorted(
        p.name for p in (blog_images.Path(__file__).parents[2] / "examples" / "sample_images").glob("*.png")
    )
