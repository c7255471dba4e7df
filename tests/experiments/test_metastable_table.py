"""The per-beta table of a metastable scan and where its dominant kind changes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hopfield_cli.experiments.metastable_scan.table import dominant_changes, per_beta_table


def rows(beta: float, kinds: list[str], k90: list[int]) -> list[dict]:
    return [
        {
            "beta": beta,
            "kind": kind,
            "k90": k,
            "max_weight": 1.0 / k,
            "dist_mean": 0.0,
            "dist_nearest": 1.0,
            "energy": -beta,
            "steps": 3,
            "converged": True,
        }
        for kind, k in zip(kinds, k90, strict=True)
    ]


def test_fractions_dominant_kind_and_changes():
    frame = pd.DataFrame(
        rows(4.0, ["single", "single", "metastable"], [1, 1, 5])
        + rows(0.1, ["global"] * 3, [9, 9, 9])
        + rows(1.0, ["metastable", "metastable", "global"], [4, 6, 9])
    )
    table = per_beta_table(frame, m_max=2.0)
    assert table["beta"].tolist() == [0.1, 1.0, 4.0]
    assert table["beta_m_max_sq"].tolist() == pytest.approx([0.4, 4.0, 16.0])
    assert table["dominant_kind"].tolist() == ["global", "metastable", "single"]
    assert table["frac_metastable"].tolist() == pytest.approx([0, 2 / 3, 1 / 3])
    assert table["median_k90"].tolist() == [9, 6, 1]
    assert "median_cluster_mass" not in table
    changes = dominant_changes(table)
    assert [(c["from"], c["to"]) for c in changes] == [("global", "metastable"), ("metastable", "single")]
    assert changes[1]["beta"] == pytest.approx(math.sqrt(1.0 * 4.0))
    assert dominant_changes(table.iloc[:1]) == []
