"""`hopfield train`: the tasks' generators, the metrics, the files a run writes, determinism and resume.

Tiny sizes throughout: each run is a fraction of a second of training. What the full experiments measure
(latch solved by every Hopfield variant, pooling above mean on bit patterns) is the reproduce claims' job.
"""

from __future__ import annotations

import itertools
import json
import math

import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import load_file

from hopfield_cli.experiments.train import checkpoint
from hopfield_cli.experiments.train.loop import make_optimizer
from hopfield_cli.experiments.train.metrics import auc
from hopfield_cli.experiments.train.models import build_model
from hopfield_cli.experiments.train.tasks import make_task
from hopfield_cli.report.files import read_provenance
from tests.conftest import assert_one_clean_line
from tests.conftest import compose as compose_config

TINY_LATCH = (
    "task=latch",
    "task.num_sequences=48",
    "task.num_eval_sequences=16",
    "task.seq_len=6",
    "batch_size=16",
)
TINY_BITS = (
    "task=bit_pattern",
    "task.num_bags=48",
    "task.num_eval_bags=16",
    "task.num_instances=4",
    "batch_size=16",
)


def compose(*overrides: str):
    return compose_config("train", "device=cpu", *overrides)


# --- tasks ---------------------------------------------------------------------------------------------------


def test_bit_pattern_bags_hold_a_signal_exactly_when_positive():
    cfg = compose(*TINY_BITS, "task.num_bits=6", "task.num_signals=3")
    data = make_task(cfg.task, seed=3)
    generator = torch.Generator().manual_seed(3)
    signals = torch.randint(0, 2, (3, 6), generator=generator).float() * 2 - 1  # the generator's first draw
    for split in (data.train, data.eval):
        assert set(split.x.unique().tolist()) == {-1.0, 1.0}
        hits = (split.x[:, :, None, :] == signals[None, None]).all(-1).sum(dim=(1, 2))  # (n,)
        assert torch.equal(hits, split.y.long()), "a positive bag holds exactly one signal, a negative none"
        assert int(split.y.sum()) == len(split) // 2
    assert not data.ordered


def test_latch_label_is_the_first_symbol():
    cfg = compose(*TINY_LATCH, "task.num_symbols=5")
    data = make_task(cfg.task, seed=1)
    x = data.train.x
    assert x.shape == (48, 6, 5) and torch.equal(x.sum(-1), torch.ones(48, 6))  # one-hot
    assert torch.equal(x[:, 0].argmax(-1).float(), data.train.y)
    assert int(data.train.y.sum()) == 24 and data.ordered


def test_the_same_seed_draws_the_same_task():
    cfg = compose(*TINY_BITS)
    a, b, c = make_task(cfg.task, 5), make_task(cfg.task, 5), make_task(cfg.task, 6)
    assert torch.equal(a.train.x, b.train.x) and torch.equal(a.eval.y, b.eval.y)
    assert not torch.equal(a.train.x, c.train.x)


# --- metrics -------------------------------------------------------------------------------------------------


def brute_auc(scores: list[float], labels: list[int]) -> float:
    """P(positive > negative) + 1/2 P(tie) over every pair: the definition, O(n^2)."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@given(st.lists(st.tuples(st.integers(-3, 3), st.booleans()), min_size=2, max_size=40))
def test_auc_equals_the_pair_count(pairs):
    scores = [float(s) for s, _ in pairs]  # few distinct values: many ties
    labels = [int(y) for _, y in pairs]
    got = auc(torch.tensor(scores), torch.tensor(labels))
    if 0 < sum(labels) < len(labels):
        assert got == pytest.approx(brute_auc(scores, labels), abs=1e-12)
    else:
        assert math.isnan(got)


# --- checkpoints ---------------------------------------------------------------------------------------------


def test_a_checkpoint_restores_model_and_optimiser(tmp_path):
    cfg = compose(*TINY_BITS, "layer=pooling")
    data = make_task(cfg.task, 0)
    model = build_model(cfg.layer, data.features, 8, data.ordered, 4)
    optimizer = make_optimizer("adamw", model, 1e-2, 0.0)
    model(data.train.x[:4]).sum().backward()
    optimizer.step()
    checkpoint.save(tmp_path, 1, model, optimizer)
    tensors = load_file(str(checkpoint.path_of(tmp_path, 1)))  # safetensors: no pickle
    assert any(k.startswith("optim.") for k in tensors) and any(k.startswith("model.") for k in tensors)
    other = build_model(cfg.layer, data.features, 8, data.ordered, 4)
    other_optimizer = make_optimizer("adamw", other, 1e-2, 0.0)
    checkpoint.load(tmp_path, 1, other, other_optimizer)
    for (name, a), b in zip(model.state_dict().items(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    state_a, state_b = optimizer.state_dict()["state"], other_optimizer.state_dict()["state"]
    assert state_a.keys() == state_b.keys()
    for index in state_a:
        for key in state_a[index]:
            assert torch.equal(torch.as_tensor(state_a[index][key]), torch.as_tensor(state_b[index][key]))


# --- the command ---------------------------------------------------------------------------------------------


def _table(folder) -> pd.DataFrame:
    return pd.read_parquet(folder / "results.parquet").drop(columns=["seconds"])


@pytest.mark.parametrize("layer", ["hopfield", "pooling", "lookup", "mean", "max", "attention", "lstm"])
def test_every_layer_trains_from_the_cli(run_cli, tmp_path, layer):
    out = tmp_path / "run"
    ran = run_cli("train", *TINY_BITS, f"layer={layer}", "epochs=2", "plots=false", f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    table = pd.read_csv(out / "results.csv")
    assert list(table["split"]) == ["train", "eval", "train", "eval"]
    assert table[["loss", "accuracy", "auc"]].notna().all().all()
    assert set(table["layer"]) == {layer}


def test_a_run_writes_its_table_summary_figure_and_model(run_cli, tmp_path):
    out = tmp_path / "run"
    ran = run_cli("train", *TINY_LATCH, "layer=pooling", "epochs=3", "seed=4", f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    assert f"results in {out}" in ran.stdout
    provenance = read_provenance(out / "results.parquet")
    assert provenance["command"] == "train" and provenance["seed"] == 4
    assert provenance["config"]["layer"]["name"] == "pooling"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["device"] == "cpu" and summary["layer"] == "pooling"
    info = json.loads((out / "run_info.json").read_text())
    assert info["seed"] == 4 and info["device"].startswith("cpu")
    assert (out / "learning_curve.png").stat().st_size > 1000
    weights = load_file(str(out / "model.safetensors"))
    cfg = compose(*TINY_LATCH, "layer=pooling")
    model = build_model(cfg.layer, 8, 32, True, 6)
    model.load_state_dict(weights)  # the saved model loads into the same architecture
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["epoch_3.safetensors"]


def test_the_same_seed_gives_the_same_table(run_cli, tmp_path):
    args = ("train", *TINY_LATCH, "layer=hopfield", "epochs=2", "plots=false", "save_model=false")
    assert run_cli(*args, f"hydra.run.dir={tmp_path / 'a'}").returncode == 0
    assert run_cli(*args, f"hydra.run.dir={tmp_path / 'b'}").returncode == 0
    assert run_cli(*args, "seed=1", f"hydra.run.dir={tmp_path / 'c'}").returncode == 0
    pd.testing.assert_frame_equal(_table(tmp_path / "a"), _table(tmp_path / "b"))
    assert not _table(tmp_path / "a")["loss"].equals(_table(tmp_path / "c")["loss"])


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_a_resumed_run_equals_one_run_straight_through(run_cli, tmp_path):
    """Two epochs, then resume= with four: the same table as four epochs at once (model, optimiser state and
    the per-epoch random streams all restored)."""
    args = ("train", *TINY_BITS, "layer=pooling", "layer.dropout=0.1", "plots=false")
    first = tmp_path / "first"
    assert run_cli(*args, "epochs=2", f"hydra.run.dir={first}").returncode == 0
    ran = run_cli(*args, "epochs=4", f"resume={first}", f"hydra.run.dir={tmp_path / 'second'}")
    assert ran.returncode == 0, ran.stderr
    assert run_cli(*args, "epochs=4", f"hydra.run.dir={tmp_path / 'whole'}").returncode == 0
    pd.testing.assert_frame_equal(_table(first), _table(tmp_path / "whole"))
    weights = load_file(str(first / "model.safetensors"))
    whole = load_file(str(tmp_path / "whole" / "model.safetensors"))
    assert all(torch.equal(weights[k], whole[k]) for k in whole)


def test_a_resume_with_other_settings_is_refused(run_cli, tmp_path):
    first = tmp_path / "first"
    assert run_cli("train", *TINY_BITS, "epochs=1", "plots=false", f"hydra.run.dir={first}").returncode == 0
    ran = run_cli("train", *TINY_BITS, "epochs=2", "lr=0.01", f"resume={first}")
    assert_one_clean_line(ran, "resume", contains="lr")


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("task=nope", "task"),
        ("layer=transformer", "layer"),
        ("epochs=0", "epochs"),
        ("layer.num_heads=3", "layer.num_heads"),
        ("task.num_bits=2", "task.num_bits"),
        ("dtype=bfloat16", "dtype"),
    ],
)
def test_bad_input_is_one_line(run_cli, override, field):
    ran = run_cli("train", *TINY_BITS, override)
    assert_one_clean_line(ran, field)


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_a_sweep_over_layers_and_seeds_is_merged(run_cli, tmp_path):
    sweep = tmp_path / "sweep"
    ran = run_cli(
        "train", "-m", *TINY_LATCH, "layer=pooling,mean", "seed=0,1", "epochs=1", "plots=false",
        "save_model=false", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    merged = pd.read_parquet(sweep / "results.parquet")
    assert sorted(merged["job"].unique()) == [0, 1, 2, 3]
    assert set(zip(merged["layer"], merged["seed"], strict=True)) == {
        (a, b) for a in ("pooling", "mean") for b in (0, 1)
    }
    summary = pd.read_csv(sweep / "summary.csv")
    assert list(summary["status"]) == ["ok"] * 4 and "final_eval_auc" in summary
