"""`hopfield attention-heads`: the paper's attention-head classes I-IV by k90 (Section 4, Fig. A.3)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hopfield_cli.config.commands import AttentionHeadsConfig
from hopfield_cli.data.attention_file import load_attention
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.attention_heads import from_file as attention_heads
from tests.conftest import invoke

KEYS = 256
# k per query for each class: I k > N/2, II N/8 < k <= N/2, III N/32 < k <= N/8, IV k <= N/32
CLASS_K = {"I": (140, 220), "II": (40, 120), "III": (10, 30), "IV": (1, 6)}


def hopfield(*args: str):
    """`hopfield ARGS` in this process."""
    return invoke(*args)


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


def test_attention_cli_reads_hf_style_layers_and_writes_the_map(tmp_path):
    probs, expected = synthetic_attention(layers=2)
    path = tmp_path / "attn.pt"
    torch.save(tuple(layer[None] for layer in probs), path)  # output_attentions: per layer (batch=1, H, Q, K)
    proc = hopfield("attention-heads", f"attention={path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "run" / "attention_heads.csv")
    assert table["head_class"].tolist() == expected.reshape(-1).tolist()
    assert (tmp_path / "run" / "attention_classes.png").is_file()
    assert len(pd.read_parquet(tmp_path / "run" / "attention_queries.parquet")) == probs[..., 0].numel()
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["command"] == "attention-heads" and info["attention"] == str(path)
    assert "attention heads by class" in proc.stdout and "N = 256 keys" in proc.stdout


def test_run_takes_the_typed_config(tmp_path):
    probs, expected = synthetic_attention(layers=1, heads=4, queries=5)
    np.save(tmp_path / "a.npy", probs.numpy())
    cfg = AttentionHeadsConfig(attention=str(tmp_path / "a.npy"), plots=False)
    table = attention_heads.run(cfg, tmp_path / "run")
    assert table["head_class"].tolist() == expected.reshape(-1).tolist()
    assert not (tmp_path / "run" / "attention_classes.png").exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["shape"] == [1, 4, 5, KEYS]
    assert summary["classes_per_layer"] == {"0": {"I": 1, "II": 1, "III": 1, "IV": 1}}
    queries = pd.read_csv(tmp_path / "run" / "attention_queries.csv")
    assert list(queries.columns) == ["layer", "head", "query", "k90", "max_weight"]


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
    loaded = load_attention(path)
    assert loaded.shape == (1, 4, 33, KEYS)


def bad(probs, tmp_path, name="bad.npy"):
    path = tmp_path / name
    np.save(path, probs.numpy())
    with pytest.raises(UsageError) as info:
        load_attention(path)
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
        load_attention(tmp_path / "obj.npy")


def test_invalid_attention_cli_error_is_one_line(tmp_path):
    probs, _ = synthetic_attention(layers=1, heads=2, queries=4)
    probs[0, 1, 2] *= 2.0
    path = tmp_path / "scores.npy"
    np.save(path, probs.numpy())
    proc = hopfield("attention-heads", f"attention={path}", f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("error: attention:") and "layer 0, head 1, query 2" in proc.stderr


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["attention-heads"], "error: attention: is required"),
        (["metastable-scan", "attention=a.npy"], "error: attention: the head analysis is its own command"),
    ],
)
def test_the_attention_file_belongs_to_attention_heads(tmp_path, args, wanted):
    proc = hopfield(*args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith(wanted), proc.stderr
    assert not (tmp_path / "run").exists()
