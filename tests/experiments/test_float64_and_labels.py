"""A float64 run is float64 from the file to the table, and a kind is given only to converged queries.

The float64 reference is Eq. 2 and Eq. 3 written out (``core.modern.reference_energy``/``reference_update``) on
the file's own float64 values, iterated as many steps as the run reports for each query.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from hopfield_cli.core.modern import reference_energy, reference_update
from hopfield_cli.experiments.metastable_scan import scan as ms
from tests.conftest import compose

BETA = 2.0


@pytest.fixture
def files(tmp_path):
    """20 float64 patterns (d = 16) that float32 cannot hold, and 6 noisy queries, as .npy files."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((20, 16)) * 0.7 + 1e-9
    q = x[:6] + 0.05 * rng.standard_normal((6, 16))
    np.save(tmp_path / "p.npy", x)
    np.save(tmp_path / "q.npy", q)
    return torch.from_numpy(x), torch.from_numpy(q)


def retrieve(run_cli, tmp_path, name: str, *args: str) -> pd.DataFrame:
    ran = run_cli(
        "retrieve", "queries_file=q.npy", f"beta={BETA}", "device=cpu", *args, f"hydra.run.dir={name}"
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return pd.read_parquet(tmp_path / name / "results.parquet")


def test_float64_file_run_matches_the_float64_reference_to_1e_12(run_cli, tmp_path, files):
    x, q = files
    table = retrieve(
        run_cli, tmp_path, "r64", "patterns=file", "patterns.path=p.npy", "dtype=float64", "eps=1e-12"
    )
    assert np.allclose(table.energy_first, reference_energy(x, q, BETA).numpy(), rtol=0, atol=1e-12)
    for row in table.itertuples():
        state = q[row.query_id : row.query_id + 1]
        for _ in range(row.steps):
            state = reference_update(x, state, BETA)
        assert abs(row.energy_last - float(reference_energy(x, state, BETA)[0])) <= 1e-12
        assert abs(row.error_norm - float((state[0] - x[row.target_id]).norm())) <= 1e-12
    # the float32 default still rounds the file: its first energy is ~1e-6 off the file's own values
    narrow = retrieve(run_cli, tmp_path, "r32", "patterns=file", "patterns.path=p.npy")
    assert np.abs(narrow.energy_first - table.energy_first).max() > 1e-9


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_store_dtype_float64_writes_a_float64_memory_that_retrieves_the_same(run_cli, tmp_path, files):
    ran = run_cli("store", "patterns=file", "patterns.path=p.npy", "dtype=float64", "out=m.safetensors")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "(float64)" in ran.stdout
    direct = retrieve(run_cli, tmp_path, "a", "patterns=file", "patterns.path=p.npy", "dtype=float64")
    stored = retrieve(run_cli, tmp_path, "b", "memory=m.safetensors", "dtype=float64")
    columns = ["energy_first", "energy_last", "error_norm", "steps", "kind"]
    assert stored[columns].equals(direct[columns])


def test_unconverged_queries_get_no_kind_and_are_counted_and_warned(run_cli, tmp_path, files):
    table = retrieve(
        run_cli, tmp_path, "u", "patterns=file", "patterns.path=p.npy", "update_steps_max=1", "eps=1e-14"
    )
    assert (~table.converged).any()
    assert (table.kind[~table.converged] == "unconverged").all()
    assert (table.kind[table.converged] != "unconverged").all()
    summary = json.loads((tmp_path / "u" / "summary.json").read_text())
    assert summary["unconverged"] == int((~table.converged).sum()) == summary["kinds"]["unconverged"]


def test_metastable_scan_labels_unconverged_queries_and_draws_them(tmp_path, capsys):
    cfg = compose(
        "metastable_scan",
        "device=cpu",
        "num_patterns=32",
        "clusters=4",
        "dim=16",
        "num_queries=8",
        "num_betas=4",
        "update_steps_max=2",
    )
    per_beta = ms.run(cfg, tmp_path)
    assert "frac_unconverged" in per_beta.columns and per_beta.frac_unconverged.max() > 0
    kinds = pd.read_parquet(tmp_path / "fixed_points.parquet")
    assert (kinds.kind[~kinds.converged] == "unconverged").all()
    assert (kinds.kind[kinds.converged] != "unconverged").all()
    total = per_beta.frac_unconverged + per_beta.frac_global + per_beta.frac_metastable + per_beta.frac_single
    assert np.allclose(total, 1.0)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["unconverged_queries"] == int((~kinds.converged).sum())
    assert "labelled 'unconverged'" in capsys.readouterr().err
    assert (tmp_path / "kind_fractions.png").stat().st_size > 0 and (tmp_path / "k90_vs_beta.png").exists()


def test_figures_say_what_their_theory_marks_are(tmp_path, monkeypatch):
    """Every theory mark names itself a bound, a sufficient condition, a guarantee or a scale; the k90
    plot draws the cluster size; log axes are labelled at 1-2-5 steps (not only at 1 and 10)."""
    from hopfield_cli.experiments.beta_scales import BetaScales
    from hopfield_cli.experiments.metastable_scan.table import save_figures
    from hopfield_cli.report import figures

    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, path, dpi=100: drawn.setdefault(path.name, fig))
    betas = [0.01, 0.1, 1.0, 10.0]
    per_beta = pd.DataFrame(
        {
            "beta": betas,
            "frac_global": [1.0, 0.0, 0.0, 0.0],
            "frac_metastable": [0.0, 0.75, 1.0, 0.0],
            "frac_single": [0.0, 0.0, 0.0, 1.0],
            "frac_unconverged": [0.0, 0.25, 0.0, 0.0],
            "median_k90": [58.0, 8.0, 5.0, 1.0],
            "k90_q25": [57.0, 8.0, 4.0, 1.0],
            "k90_q75": [58.0, 8.0, 6.0, 1.0],
        }
    )
    scales = BetaScales(
        m_max=9.0,
        beta_global=0.0122,
        separation_min=-3.0,
        never_separated=0,
        beta_separated=1540.0,
        beta_cluster_separated=0.258,
        beta_cluster_internal=0.954,
    )
    save_figures(tmp_path, per_beta, scales, 64, "setting", cluster_size=8.0)
    for name in ("kind_fractions.png", "k90_vs_beta.png"):
        labels = [t.get_text() for t in drawn[name].axes[0].get_legend().get_texts()]
        assert any(t.startswith("bound (Lemma A3)") for t in labels), labels
        assert sum(t.startswith("sufficient") for t in labels) == 2, labels
    fractions = [t.get_text() for t in drawn["kind_fractions.png"].axes[0].get_legend().get_texts()]
    assert any(t.startswith("unconverged") for t in fractions)
    k90 = drawn["k90_vs_beta.png"].axes[0]
    assert any(line.get_ydata()[0] == 8.0 for line in k90.get_lines())  # the cluster size
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(k90.figure).draw()  # tick labels exist once drawn
    ticks = {t.get_text() for t in k90.yaxis.get_ticklabels() if t.get_text()}
    assert {"1", "2", "5", "10", "20", "50"} <= ticks, ticks
