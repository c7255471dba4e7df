"""`hopfield metastable-scan`: fixed-point kinds across beta (Lemma A3, Lemma A12) and attention-head classes."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from hopfield_cli.errors import UsageError
from hopfield_cli.experiments import attention_heads
from hopfield_cli.experiments import metastable_scan as ms


def compose(*overrides: str):
    """The metastable-scan config exactly as the CLI composes it (schema + conf/metastable_scan.yaml)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    from hopfield_cli.cli import config_dir
    from hopfield_cli.config import register_configs, validate

    register_configs()
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        cfg = hydra_compose(config_name="metastable_scan", overrides=["device=cpu", *overrides])
    validate("metastable-scan", cfg)
    return cfg


def setup(cfg):
    generator = torch.Generator().manual_seed(int(cfg.seed))
    data = ms.load_scan_patterns(cfg, generator)
    queries, targets = ms.make_queries(cfg, data, generator)
    return data, queries, targets, ms.beta_scales(data)


def scan(cfg, beta, data, queries, targets) -> pd.DataFrame:
    return pd.DataFrame(
        ms.scan_beta(beta, data, queries, targets, cfg, torch.device("cpu"), torch.float64, 1 << 26)
    )


# ------------------------------------------------------------------------------------------ the beta scan


def test_default_run_goes_global_metastable_single(run_cli, tmp_path):
    out = tmp_path / "run"
    proc = run_cli("metastable-scan", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr
    per_beta = pd.read_parquet(out / "betas.parquet")
    assert per_beta["beta"].is_monotonic_increasing and len(per_beta) == 24
    dominant = per_beta["dominant_kind"].tolist()
    assert dominant[0] == "global" and dominant[-1] == "single"
    assert "metastable" in dominant[1:-1]
    # The order is global -> metastable -> single, each once.
    assert [k for i, k in enumerate(dominant) if i == 0 or k != dominant[i - 1]] == [
        "global",
        "metastable",
        "single",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert [(c["from"], c["to"]) for c in summary["dominant_changes"]] == [
        ("global", "metastable"),
        ("metastable", "single"),
    ]
    # Global averaging lasts at least up to Lemma A3's sufficient bound 1/m_max^2.
    assert summary["dominant_changes"][0]["beta"] > summary["scales"]["beta_global"]
    for name in (
        "fixed_points.parquet",
        "fixed_points.csv",
        "betas.csv",
        "kind_fractions.png",
        "k90_vs_beta.png",
        "run_info.json",
        "sweep.json",
        "cells.jsonl",
        ".hydra/config.yaml",
    ):
        assert (out / name).is_file(), name
    queries = pd.read_parquet(out / "fixed_points.parquet")
    assert len(queries) == 24 * 128
    assert {
        "k90",
        "kind",
        "max_weight",
        "dist_nearest",
        "dist_mean",
        "dist_cluster_mean",
        "energy",
        "steps",
    } <= set(queries)
    assert "metastable" in proc.stdout and "1 / m_max^2" in proc.stdout


def test_below_global_bound_every_query_reaches_the_global_fixed_point():
    cfg = compose("clusters=0", "num_queries=64", "queries=random", "seed=3")
    data, queries, targets, scales = setup(cfg)
    n = data.patterns.shape[0]
    for product in (0.1, 0.5, 0.9):  # beta * m_max^2 < 1 (Lemma A3)
        rows = scan(cfg, product * scales.beta_global, data, queries, targets)
        assert (rows["kind"] == "global").all()
        assert rows["k90"].min() >= 0.85 * n
        # One fixed point for all queries, near the mean m_x.
        assert rows["dist_mean"].max() - rows["dist_mean"].min() < 1e-4
        assert rows["dist_mean"].max() < 0.1 * scales.m_max
        assert rows["converged"].all()


def test_clusters_give_metastable_states_the_size_of_a_cluster():
    cfg = compose("clusters=8", "num_patterns=64", "cluster_spread=0.05", "num_queries=64", "seed=1")
    data, queries, targets, scales = setup(cfg)
    size = 64 // 8
    assert scales.beta_cluster_separated < scales.beta_cluster_internal
    beta = math.sqrt(scales.beta_cluster_separated * scales.beta_cluster_internal)
    rows = scan(cfg, beta, data, queries, targets)
    assert (rows["kind"] == "metastable").all()
    assert (rows["cluster_mass"] > 0.99).all()  # the support lies in one cluster ...
    assert rows["k90"].between(math.ceil(0.9 * size) - 1, size).all()  # ... and covers (90% of) it
    assert rows["k90"].median() >= math.ceil(0.9 * size) - 1
    assert (rows["cluster_id"] == rows["target_cluster"]).mean() > 0.9
    spread = 0.05 * float(data.centres.norm(dim=1).min())
    assert (rows["dist_cluster_mean"] < 0.5 * spread).all()  # near the cluster mean (Lemma A12)


def test_well_separated_beta_is_the_root_of_the_condition():
    from hopfield_cli.core.theory import well_separated_threshold

    beta = ms.well_separated_beta(30.0, 64, 10.0)
    assert 30.0 >= well_separated_threshold(64, beta, 10.0)
    assert 30.0 < well_separated_threshold(64, beta * 0.999, 10.0)
    assert ms.well_separated_beta(-1.0, 64, 10.0) == math.inf


def test_resume_after_truncating_cells_gives_the_same_table(run_cli, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    cfg = compose("num_betas=6", "num_queries=32")
    ms.run(cfg, first)
    reference = pd.read_csv(first / "betas.csv")
    lines = (first / "cells.jsonl").read_text().splitlines(keepends=True)
    (first / "cells.jsonl").write_text("".join(lines[:2]) + lines[2][: len(lines[2]) // 2])  # kill mid-append
    proc = run_cli(
        "metastable-scan", "num_betas=6", "num_queries=32", f"resume={first}", f"hydra.run.dir={second}"
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 of 6 betas already done" in proc.stdout + proc.stderr
    pd.testing.assert_frame_equal(pd.read_csv(first / "betas.csv"), reference)
    assert len(pd.read_parquet(first / "fixed_points.parquet")) == 6 * 32
    # A different sweep is refused in that folder.
    proc = run_cli(
        "metastable-scan", "num_betas=6", "num_queries=16", f"resume={first}", f"hydra.run.dir={second}"
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: resume:") and "different sweep" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------------------- attention heads

KEYS = 256
# k per query for each class: I k > N/2, II N/8 < k <= N/2, III N/32 < k <= N/8, IV k <= N/32
CLASS_K = {"I": (140, 220), "II": (40, 120), "III": (10, 30), "IV": (1, 6)}


def rows_with_k(ks: list[int], n: int, generator: torch.Generator) -> torch.Tensor:
    """Probability rows whose k90 is exactly k: k keys share 0.9 + 0.45/k, the rest share what is left.

    The top k-1 keys hold 0.9 - 0.9/k + 0.45 (k-1)/k^2 < 0.9 and the top k hold >= 0.9, so k90 == k, provided
    the other keys each get less than one of the k (true for k <= 220 of 256).
    """
    out = torch.empty(len(ks), n, dtype=torch.float64)
    for i, k in enumerate(ks):
        head = min(1.0, 0.9 + 0.45 / k)
        assert k < n and (1.0 - head) / (n - k) < head / k
        row = torch.full((n,), (1.0 - head) / (n - k), dtype=torch.float64)
        row[:k] = head / k
        out[i] = row[torch.randperm(n, generator=generator)]
    return out


def synthetic_attention(layers: int = 3, heads: int = 4, queries: int = 33, seed: int = 0):
    """(L, H, Q, N) probabilities with the class of head (l, h) = CLASSES[(l + h) % 4]; k varies per query."""
    g = torch.Generator().manual_seed(seed)
    names = list(CLASS_K)
    probs = torch.empty(layers, heads, queries, KEYS, dtype=torch.float64)
    expected = np.empty((layers, heads), dtype=object)
    for layer in range(layers):
        for head in range(heads):
            name = names[(layer + head) % 4]
            lo, hi = CLASS_K[name]
            ks = torch.randint(lo, hi + 1, (queries,), generator=g).tolist()
            probs[layer, head] = rows_with_k(ks, KEYS, g)
            expected[layer, head] = name
    return probs.float(), expected


def test_rows_with_k_have_exactly_that_k():
    g = torch.Generator().manual_seed(0)
    ks = [1, 2, 3, 7, 10, 31, 64, 100, 200, 220]
    rows = rows_with_k(ks, KEYS, g).float()
    assert attention_heads.query_k90(rows[None, None]).flatten().tolist() == ks


def test_synthetic_heads_get_the_classes_they_were_built_with(tmp_path):
    probs, expected = synthetic_attention()
    table = attention_heads.head_table(attention_heads.query_k90(probs), KEYS)
    got = table["head_class"].to_numpy().reshape(expected.shape)
    assert (got == expected).all()


def test_attention_cli_reads_hf_style_layers_and_writes_the_map(run_cli, tmp_path):
    probs, expected = synthetic_attention(layers=2)
    path = tmp_path / "attn.pt"
    torch.save(tuple(layer[None] for layer in probs), path)  # output_attentions: per layer (batch=1, H, Q, K)
    proc = run_cli("metastable-scan", f"attention={path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "run" / "attention_heads.csv")
    assert table["head_class"].tolist() == expected.reshape(-1).tolist()
    assert (tmp_path / "run" / "attention_classes.png").is_file()
    assert len(pd.read_parquet(tmp_path / "run" / "attention_queries.parquet")) == probs[..., 0].numel()


@pytest.mark.parametrize("fmt", ["npy", "safetensors", "pt"])
def test_attention_formats(tmp_path, fmt):
    from safetensors.torch import save_file

    probs, expected = synthetic_attention(layers=1)
    path = tmp_path / f"a.{fmt}"
    if fmt == "npy":
        np.save(path, probs[0].numpy())  # (H, Q, K)
    elif fmt == "safetensors":
        save_file({"attentions": probs, "input_ids": torch.zeros(3)}, str(path))
    else:
        torch.save({"attention": probs}, path)
    loaded = attention_heads.load_attention(path)
    assert loaded.shape == (1, 4, 33, KEYS)


def bad(probs, tmp_path, name="bad.npy"):
    path = tmp_path / name
    np.save(path, probs.numpy())
    with pytest.raises(UsageError) as info:
        attention_heads.load_attention(path)
    assert info.value.field == "attention" and "\n" not in info.value.message
    return info.value.message


def test_invalid_attention_is_refused_naming_the_row(tmp_path):
    probs, _ = synthetic_attention(layers=2, heads=3, queries=5)
    p = probs.clone()
    p[1, 2, 3, 7] = -0.01
    assert "negative" in bad(p, tmp_path) and "layer 1, head 2, query 3" in bad(p, tmp_path)
    p = probs.clone()
    p[0, 1, 4, 0] = float("nan")
    assert "NaN" in bad(p, tmp_path) and "layer 0, head 1, query 4" in bad(p, tmp_path)
    p = probs.clone()
    p[1, 0, 2] *= 0.9
    message = bad(p, tmp_path)
    assert "layer 1, head 0, query 2" in message and "sums to 0.9" in message
    assert "expected (layers, heads, queries, keys)" in bad(probs[0, 0], tmp_path)
    assert "expected (layers, heads, queries, keys)" in bad(probs[None], tmp_path)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    with pytest.raises(UsageError, match="Python objects"):
        attention_heads.load_attention(tmp_path / "obj.npy")


def test_invalid_attention_cli_error_is_one_line(run_cli, tmp_path):
    probs, _ = synthetic_attention(layers=1, heads=2, queries=4)
    probs[0, 1, 2] *= 2.0
    path = tmp_path / "scores.npy"
    np.save(path, probs.numpy())
    proc = run_cli("metastable-scan", f"attention={path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: attention:") and "layer 0, head 1, query 2" in proc.stderr
