"""Image memories (the README's blog recipe): store reports the beta scales; centred images come back whole."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import REPO

FACES = REPO / "examples" / "faces"


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_store_reports_the_beta_scales_and_centred_faces_are_retrieved(run_cli, tmp_path):
    proc = run_cli(
        "store",
        "patterns=images",
        f"patterns.path={FACES}",
        "normalise=center",
        "out=faces.safetensors",
        "hydra.run.dir=s",
    )
    assert proc.returncode == 0, proc.stderr
    assert "averaging below 1/m_max^2" in proc.stdout and "well separated from" in proc.stdout
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert 0 < summary["beta_global"] < summary["beta_separated"] < 1  # 0.0014 and 0.069 for the 12 faces
    assert "share a large mean" not in proc.stdout  # centred
    proc = run_cli(
        "retrieve", "memory=faces.safetensors", "corruption=mask_lower_half", "beta=0.1", "hydra.run.dir=r"
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(tmp_path / "r" / "results.parquet")
    assert table["success"].all() and len(table) == 12
    assert (tmp_path / "r" / "retrieval_grid.png").is_file() and (
        tmp_path / "r" / "retrieval_grid.npz"
    ).is_file()
    # below 1/m_max^2 every query goes to the average of all faces
    proc = run_cli(
        "retrieve",
        "memory=faces.safetensors",
        "corruption=mask_lower_half",
        "beta=0.0005",
        "hydra.run.dir=low",
    )
    assert (pd.read_parquet(tmp_path / "low" / "results.parquet")["kind"] == "global").all()


def test_uncentred_images_get_a_note(run_cli):
    proc = run_cli(
        "store", "patterns=images", f"patterns.path={FACES}", "out=raw.safetensors", "hydra.run.dir=s"
    )
    assert proc.returncode == 0, proc.stderr
    assert "share a large mean" in proc.stdout and "normalise=center" in proc.stdout
