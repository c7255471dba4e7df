"""`hopfield store` and `hopfield retrieve` end to end, through the real console script."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open

from hopfield_cli.experiments.retrieve import RESULT_COLUMNS


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow
def test_store_then_retrieve_meets_the_issue_target(run_cli_process, tmp_path):
    run_cli = run_cli_process  # the headline recipe, end to end through the console script
    """1000 random +-1 patterns, d=64; 20% of the bits flipped (exactly 13); beta=8 retrieves >= 99%."""
    proc = run_cli("store", "num_patterns=1000", "dim=64", "out=mem.safetensors", "hydra.run.dir=store_run")
    assert proc.returncode == 0, proc.stderr
    assert "Delta_min" in proc.stdout
    with safe_open(tmp_path / "mem.safetensors", "pt") as fh:
        meta = fh.metadata()
        patterns = fh.get_tensor("patterns")
    assert patterns.shape == (1000, 64)
    assert set(torch.unique(patterns).tolist()) == {-1.0, 1.0}
    for key in ("source", "num_patterns", "dim", "seed", "checksum", "versions", "normalisation"):
        assert key in meta, key
    proc = run_cli(
        "retrieve",
        "memory=mem.safetensors",
        "corruption=flip",
        "corruption.p=0.2",
        "beta=8",
        "hydra.run.dir=ret_run",
    )
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "ret_run"
    table = pd.read_parquet(run / "results.parquet")
    assert list(table.columns) == RESULT_COLUMNS
    assert len(table) == 1000
    assert table["success"].mean() >= 0.99
    assert pd.read_csv(run / "results.csv")["success"].mean() == table["success"].mean()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["success_rate"] >= 0.99
    assert "success rate" in proc.stdout and "99." in proc.stdout
    # energy never rises from the query to the fixed point (Theorem 1/2)
    assert (table["energy_last"] <= table["energy_first"] + 1e-4).all()
    for f in ("run_info.json", ".hydra/config.yaml"):
        assert (run / f).exists(), f
    info = json.loads((run / "run_info.json").read_text())
    assert info["seed"] == 0 and "torch" in info["versions"] and info["device"].startswith("cpu")


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_same_seed_same_table(run_cli, tmp_path):
    args = ["num_patterns=200", "dim=32", "corruption=flip_bernoulli", "corruption.p=0.3", "beta=2"]
    a = run_cli("retrieve", *args, "hydra.run.dir=a")
    b = run_cli("retrieve", *args, "hydra.run.dir=b")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "a/results.csv"), pd.read_csv(tmp_path / "b/results.csv")
    )
    c = run_cli("retrieve", *args, "seed=1", "hydra.run.dir=c")
    assert c.returncode == 0, c.stderr
    assert not pd.read_csv(tmp_path / "c/results.csv").equals(pd.read_csv(tmp_path / "a/results.csv"))


@pytest.mark.parametrize(
    "args",
    [
        ["patterns=gaussian"],
        ["patterns=sphere", "patterns.radius_k=2"],
        ["patterns=correlated", "patterns.correlation=0.3"],
        ["patterns=binary", "normalise=unit"],
    ],
    ids=lambda a: " ".join(a),
)
def test_store_generated_sources(run_cli, tmp_path, args):
    proc = run_cli("store", "num_patterns=50", "dim=16", *args, "out=m.safetensors", "hydra.run.dir=r")
    assert proc.returncode == 0, proc.stderr
    with safe_open(tmp_path / "m.safetensors", "pt") as fh:
        x = fh.get_tensor("patterns")
    assert x.shape == (50, 16) and torch.isfinite(x).all()
    if "patterns=sphere" in args:
        torch.testing.assert_close(x.norm(dim=1), torch.full((50,), 2 * 15**0.5), rtol=1e-5, atol=1e-5)
    if "normalise=unit" in args:
        torch.testing.assert_close(x.norm(dim=1), torch.ones(50), rtol=1e-5, atol=1e-5)


def _user_files(tmp_path):
    rng = np.random.default_rng(0)
    data = np.sign(rng.standard_normal((40, 24))).astype(np.float32)
    np.save(tmp_path / "p.npy", data)
    np.savetxt(
        tmp_path / "p.csv", data, delimiter=",", header=",".join(f"c{i}" for i in range(24)), comments=""
    )
    from safetensors.torch import save_file

    save_file({"patterns": torch.from_numpy(data)}, str(tmp_path / "p.safetensors"))
    torch.save(torch.from_numpy(data), tmp_path / "p.pt")
    return data


@pytest.mark.parametrize("name", ["p.npy", "p.csv", "p.safetensors", "p.pt"])
def test_store_from_user_files(run_cli, tmp_path, name):
    data = _user_files(tmp_path)
    proc = run_cli("store", "patterns=file", f"patterns.path={name}", "out=m.safetensors", "hydra.run.dir=r")
    assert proc.returncode == 0, proc.stderr
    with safe_open(tmp_path / "m.safetensors", "pt") as fh:
        x = fh.get_tensor("patterns")
    np.testing.assert_array_equal(x.numpy(), data)


def _draw_images(folder, count=6, size=48):
    from PIL import Image, ImageDraw

    folder.mkdir()
    for i in range(count):
        img = Image.new("RGB", (size + 8 * i, size), (20 * i, 0, 255 - 30 * i))
        draw = ImageDraw.Draw(img)
        draw.ellipse((4 + 3 * i, 4, size - 4, size - 4 - 2 * i), fill=(255, 255, 255))
        draw.rectangle((2, 2 + 5 * i, 10 + 4 * i, 12 + 5 * i), fill=(0, 0, 0))
        img.save(folder / f"img{i}.{'png' if i % 2 else 'jpg'}")


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_images_store_and_retrieve_lower_half_mask(run_cli, tmp_path):
    _draw_images(tmp_path / "imgs")
    proc = run_cli(
        "store",
        "patterns=images",
        "patterns.path=imgs",
        "patterns.side=16",
        "out=faces.safetensors",
        "hydra.run.dir=s",
    )
    assert proc.returncode == 0, proc.stderr
    with safe_open(tmp_path / "faces.safetensors", "pt") as fh:
        x = fh.get_tensor("patterns")
    assert x.shape == (6, 256) and x.min() >= -1 and x.max() <= 1
    proc = run_cli(
        "retrieve", "memory=faces.safetensors", "corruption=mask_lower_half", "beta=8", "hydra.run.dir=r"
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r/retrieval_grid.png").stat().st_size > 1000
    table = pd.read_csv(tmp_path / "r/results.csv")
    assert len(table) == 6


def test_retrieve_queries_from_file(run_cli, tmp_path):
    rng = np.random.default_rng(1)
    patterns = np.sign(rng.standard_normal((30, 32))).astype(np.float32)
    np.save(tmp_path / "p.npy", patterns)
    queries = patterns[[3, 7, 11]].copy()
    queries[:, :4] *= -1
    np.save(tmp_path / "q.npy", queries)
    proc = run_cli(
        "retrieve", "patterns=file", "patterns.path=p.npy", "queries_file=q.npy", "hydra.run.dir=r"
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "r/results.csv")
    assert table["target_id"].tolist() == [3, 7, 11]
    assert table["retrieved_id"].tolist() == [3, 7, 11]


@pytest.mark.parametrize("model", ["classical", "dense", "exponential", "sparse"])
def test_retrieve_every_family(run_cli, tmp_path, model):
    proc = run_cli(
        "retrieve",
        f"model={model}",
        "num_patterns=5",
        "dim=64",
        "corruption.p=0.05",
        "beta=1",
        "hydra.run.dir=r",
    )
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "r/results.csv")
    assert table["success"].mean() >= 0.8, table


def test_binary_family_refuses_real_patterns(run_cli, tmp_path):
    proc = run_cli("retrieve", "model=classical", "patterns=gaussian", "hydra.run.dir=r")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: patterns") and "binarise" in proc.stderr
    proc = run_cli(
        "retrieve",
        "model=classical",
        "binarise=true",
        "patterns=gaussian",
        "num_patterns=5",
        "hydra.run.dir=r2",
    )
    assert proc.returncode == 0, proc.stderr
