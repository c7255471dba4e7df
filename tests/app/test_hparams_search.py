"""Hyper-parameter search (issue 25, item 2): a job returns its ``optimized_metric``, so Hydra's real Optuna
sweeper runs ``hparams_search=retrieve_beta``; its study is read back with optuna's own reader."""

from __future__ import annotations

import json

import pytest
import yaml

from hopfield_cli.app.sweep.objective import numbers, read_metric
from hopfield_cli.errors import UsageError


def test_read_metric_takes_dotted_numbers(tmp_path):
    (tmp_path / "summary.json").write_text(
        json.dumps({"success_rate": 0.5, "kinds": {"single": 3}, "ok": True})
    )
    assert read_metric(tmp_path, "success_rate") == 0.5 and read_metric(tmp_path, "kinds.single") == 3.0
    assert numbers({"a": 1, "b": {"c": 2.0}, "d": "x", "e": False}) == ["a", "b.c"]
    with pytest.raises(UsageError, match=r"'nope' is not in .*; its numbers: success_rate, kinds.single"):
        read_metric(tmp_path, "nope")
    with pytest.raises(UsageError, match="is not a number"):
        read_metric(tmp_path, "ok")


def test_single_run_says_its_objective(run_cli, tmp_path):
    ran = run_cli(
        "retrieve",
        "num_patterns=20",
        "dim=16",
        "optimized_metric=success_rate",
        f"hydra.run.dir={tmp_path / 'r'}",
    )
    assert ran.returncode == 0, ran.stderr
    assert "objective: success_rate = " in ran.stdout
    bad = run_cli(
        "retrieve", "num_patterns=20", "dim=16", "optimized_metric=sucess", f"hydra.run.dir={tmp_path / 'b'}"
    )
    assert bad.returncode == 2 and bad.stderr.strip().startswith(
        "error: optimized_metric: 'sucess' is not in "
    )


def test_optuna_without_a_metric_is_refused_in_one_line(run_cli, tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    ran = run_cli(
        "retrieve", "-m", "hydra/sweeper=optuna", "beta=interval(0.5,16)", f"hydra.sweep.dir={tmp_path}/s"
    )
    assert ran.returncode == 2 and ran.stderr.strip().startswith(
        "error: optimized_metric: hydra/sweeper=optuna needs"
    )
    wrong = run_cli(
        "retrieve",
        "-m",
        "hparams_search=retrieve_beta",
        "beta=interval(0,16)",
        f"hydra.sweep.dir={tmp_path}/w",
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: beta: must be a finite number > 0")


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.slow  # six real runs through the real sweeper
def test_optuna_finds_the_best_beta_of_six_trials_and_the_study_reads_back(run_cli, tmp_path):
    optuna = pytest.importorskip("optuna")
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    storage = f"sqlite:///{tmp_path}/beta.db"
    sweep = tmp_path / "sweep"
    ran = run_cli(
        "retrieve",
        "-m",
        "hparams_search=retrieve_beta",
        "num_patterns=24",
        "dim=16",
        "num_queries=12",
        "corruption.p=0.3",
        "hydra.sweeper.n_trials=6",
        f"hydra.sweeper.storage={storage}",
        f"hydra.sweep.dir={sweep}",
    )
    assert ran.returncode == 0, ran.stderr
    rates = {}
    for job in range(6):
        summary = json.loads((sweep / str(job) / "summary.json").read_text())
        rates[summary["beta"]] = summary["success_rate"]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(rates.values())
    assert any(
        abs(beta - best["best_params"]["beta"]) < 1e-9 and rate == best["best_value"]
        for beta, rate in rates.items()
    )
    study = optuna.load_study(study_name="retrieve_beta", storage=storage)
    assert len(study.trials) == 6 and study.direction == optuna.study.StudyDirection.MAXIMIZE
    assert study.best_value == best["best_value"]
    assert study.best_params["beta"] == pytest.approx(best["best_params"]["beta"])
    assert sorted(t.value for t in study.trials) == sorted(rates.values())
