"""The merged sweep's console table: one capacity column per model, '-' for no beta, whole at 80 columns."""

from __future__ import annotations

import io

import pandas as pd
from rich.console import Console

from hopfield_cli.report.sweep_tables import capacity_rows, capacity_table, job_table


def render(table, width: int = 80) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(table)
    return console.file.getvalue()


def merged_capacity() -> tuple[pd.DataFrame, pd.DataFrame]:
    nan = float("nan")
    capacity = pd.DataFrame(
        {
            "job": [0, 0, 1, 1, 2, 2],
            "model": ["modern", "classical"] * 3,
            "beta": [1.0, nan, 8.0, nan, 1000.0, nan],
            "dim": [64] * 6,
            "capacity": [3_500_000, 5, 3444, 5, 12, 5],
            "censored": ["never failed up to N=3,500,000", "", "", "", "", ""],
            "threshold": [0.9] * 6,
        }
    )
    summary = pd.DataFrame(
        {"job": [0, 1, 2, 3], "beta": [1.0, 8.0, 1000.0, 16.0], "status": ["ok"] * 3 + ["missing"]}
    )
    return capacity, summary


def test_one_row_per_job_and_one_column_per_model():
    capacity, summary = merged_capacity()
    rows = capacity_rows(capacity, summary, ["beta"])
    assert [r["job"] for r in rows] == [0, 1, 2, 3]
    assert [r["modern"] for r in rows] == ["3,500,000+", "3,444", "12", "-"]
    assert [r["classical"] for r in rows] == ["5", "5", "5", "-"]  # no beta: the same in every beta row


def test_the_table_keeps_whole_at_80_columns():
    capacity, summary = merged_capacity()
    text = render(capacity_table("capacity_sweep: 3 of 4 jobs ok", capacity, summary, ["beta"], 0.9))
    assert "…" not in text and "@beta" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "3,500,000+" in text and "modern" in text and "classical" in text and "missing" in text


def test_no_beta_is_a_dash():
    capacity = pd.DataFrame(
        {
            "job": [0],
            "model": ["classical"],
            "beta": [float("nan")],
            "dim": [32],
            "capacity": [4],
            "censored": [""],
        }
    )
    summary = pd.DataFrame({"job": [0], "status": ["ok"]})
    text = render(capacity_table("t", capacity, summary, []))
    row = next(line for line in text.splitlines() if line.strip().startswith("0"))
    assert row.split()[:5] == ["0", "-", "32", "ok", "4"]


def test_a_job_table_folds_rather_than_cutting():
    summary = pd.DataFrame(
        {"job": [0], "status": ["ok"], "success_rate": [0.123456789], "seconds": [1234567.0]}
    )
    text = render(
        job_table("retrieve: 1 of 1 jobs ok", summary, ["job", "status"], ["success_rate", "seconds"]), 40
    )
    assert "…" not in text
