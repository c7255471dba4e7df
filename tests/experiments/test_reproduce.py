"""`hopfield reproduce`: verdicts come from the numbers, a broken core turns claims to FAIL (exit 1), and a
second run into the same folder reuses finished claims."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from hopfield_cli.core import modern, streaming
from hopfield_cli.experiments.reproduce import core_claims, head_claims
from hopfield_cli.experiments.reproduce.claims import FAIL, NOT_APPLICABLE, PASS, verdict
from hopfield_cli.experiments.reproduce.profiles import PROFILES
from tests.conftest import assert_one_clean_line

QUICK = PROFILES["quick"]


def _beta_twice(monkeypatch):
    """The deliberate break: the update's softmax sees beta * beta (beta applied twice)."""
    real = streaming.softmax_pass

    def broken(patterns, states, beta, **kwargs):
        return real(patterns, states, beta * beta, **kwargs)

    monkeypatch.setattr(modern.streaming, "softmax_pass", broken)


def _energy_sign_flipped(monkeypatch):
    """The deliberate break: Eq. 2 with the wrong sign."""
    real = modern.ModernHopfield._energy_from
    monkeypatch.setattr(modern.ModernHopfield, "_energy_from", staticmethod(lambda *a: -real(*a)))


def test_verdict_rules():
    assert (verdict(True), verdict(False), verdict(None)) == (PASS, FAIL, NOT_APPLICABLE)


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_core_claims_pass(tmp_path):
    for fn in (core_claims.eq3_attention, core_claims.theorem3_values, core_claims.one_step_retrieval):
        claim = fn(QUICK, 0, tmp_path)
        assert claim.verdict == PASS, claim


@pytest.mark.slow
def test_beta_twice_fails_eq3(tmp_path, monkeypatch):
    _beta_twice(monkeypatch)
    claim = core_claims.eq3_attention(QUICK, 0, tmp_path)
    assert claim.verdict == FAIL and claim.measured_value > 1e-3


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_energy_descent_passes_and_a_sign_flip_fails(tmp_path, monkeypatch):
    few = dataclasses.replace(QUICK, energy_cases=3)  # the quick profile's 24 cases run in the e2e test
    assert core_claims.energy_descent(few, 0, tmp_path).verdict == PASS
    _energy_sign_flipped(monkeypatch)
    assert core_claims.energy_descent(few, 0, tmp_path).verdict == FAIL


def test_head_prediction_agrees_with_k90(tmp_path):
    claim = head_claims.head_classes(QUICK, 0, tmp_path)
    assert claim.verdict == PASS, claim
    assert (tmp_path / claim.figure).is_file()


def _cells(folder: Path) -> int:
    return sum(1 for _ in open(folder / "cells.jsonl"))


@pytest.mark.slow  # a whole CLI run: in make test, not make test-fast
def test_reproduce_writes_report_and_resumes(run_cli, tmp_path):
    out = tmp_path / "run"
    args = ("reproduce", "claims=[eq3_attention,theorem3_values]", f"hydra.run.dir={out}")
    ran = run_cli(*args)
    assert ran.returncode == 0, ran.stderr
    table = pd.read_csv(out / "claims.csv")
    assert list(table.claim) == ["eq3_attention", "theorem3_values"]
    assert set(table.verdict) == {PASS}
    report = (out / "report.md").read_text()
    assert "hopfield reproduce profile=quick claims=[eq3_attention]" in report and "| PASS |" in report
    assert (out / "report.html").read_text().count("<table>") == 1
    assert json.loads((out / "run_info.json").read_text())["versions"]["torch"]
    cells = _cells(out)
    ran = run_cli("reproduce", "claims=[eq3_attention,theorem3_values]", f"resume={out}")
    assert ran.returncode == 0, ran.stderr
    assert _cells(out) == cells  # both groups reused, nothing measured again


@pytest.mark.slow
def test_a_broken_core_fails_the_command(run_cli, tmp_path, monkeypatch):
    _beta_twice(monkeypatch)
    out = tmp_path / "broken"
    ran = run_cli("reproduce", "claims=[eq3_attention,theorem3_values]", f"hydra.run.dir={out}")
    errors = [ln for ln in ran.stderr.splitlines() if ln.startswith("error:")]
    assert ran.returncode == 1 and "Traceback" not in ran.stderr and len(errors) == 1, ran.stderr
    assert errors[0].startswith("error: claims: 1 claim(s) FAIL: eq3_attention;")
    assert "**FAIL**" in (out / "report.md").read_text()


def test_unknown_claim_is_one_line(run_cli):
    assert_one_clean_line(run_cli("reproduce", "claims=[eq4]"), "claims[0]")


def test_user_attention_file_is_not_applicable(run_cli, tmp_path):
    attention = Path(__file__).resolve().parents[2] / "examples" / "attentions.safetensors"
    out = tmp_path / "att"
    ran = run_cli("reproduce", "claims=[theorem3_values]", f"attention={attention}", f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    table = pd.read_csv(out / "claims.csv")
    assert table.set_index("claim").loc["head_classes_file", "verdict"] == NOT_APPLICABLE


@pytest.mark.slow
@pytest.mark.e2e
def test_quick_profile_all_pass(run_cli_process, tmp_path):
    out = tmp_path / "quick"
    proc = run_cli_process("reproduce", "profile=quick", f"hydra.run.dir={out}", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(out / "claims.csv")
    from hopfield_cli.experiments.reproduce.run import profile_groups

    expected = [c for g in profile_groups("quick", None) for c in g.claims]
    assert sorted(table.claim) == sorted(expected) and len(expected) >= 15
    verdicts = table.set_index("claim").verdict
    # NOT APPLICABLE only where the theory has no case here: MiniLM's claim without the model package
    assert set(verdicts[verdicts != PASS].index) <= {"bert_first_layer_averages"}, verdicts.to_dict()
    assert set(verdicts) <= {PASS, NOT_APPLICABLE}
