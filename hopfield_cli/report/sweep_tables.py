"""The console tables of a merged sweep (``hopfield collect``, the end of a multirun): one row per job.

They keep whole at 80 columns: the job, its parameters and status never wrap, numbers fold rather than end in
an ellipsis. A capacity sweep gets one capacity column per model (``modern``, ``classical``) instead of one
per model and beta (``capacity.classical@beta=None``); ``-`` in the beta column means the row's models have no
inverse temperature.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich import box
from rich.table import Table

from hopfield_cli.report.console import format_value

# Parameters shown by the capacity table's own beta and d columns.
SHOWN_BY_CAPACITY = ("beta", "betas", "dim", "dims")


def cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format_value(value)


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)


def job_table(title: str, summary: pd.DataFrame, fixed: list[str], headline: list[str]) -> Table:
    """``fixed`` columns (job, parameters, status) then ``headline`` numbers, one row per job."""
    table = _table(title)
    for column in fixed + headline:
        table.add_column(column, justify="left" if column == "status" else "right", overflow="fold")
    for record in summary.to_dict("records"):
        style = None if record["status"] == "ok" else "red"
        table.add_row(*(cell(record.get(c)) for c in fixed + headline), style=style)
    return table


def _capacity(part: pd.DataFrame) -> str:
    if part.empty:
        return "-"
    r = part.iloc[0]
    censored = "+" if str(r.get("censored", "")).startswith("never") else ""
    return f"{int(r['capacity']):,}{censored}"


def capacity_rows(capacity: pd.DataFrame, summary: pd.DataFrame, params: list[str]) -> list[dict[str, Any]]:
    """One row per (job, d, beta) with each model's capacity; a model without beta fills every beta row of its
    job and d; a job without results (failed, missing) one row of dashes."""
    models = list(dict.fromkeys(capacity["model"]))
    rows = []
    for record in summary.to_dict("records"):
        base = {k: record.get(k) for k in ("job", *params, "status")}
        part = capacity[capacity["job"] == record["job"]]
        if part.empty:
            rows.append({**base, "beta": None, "d": None, **{m: "-" for m in models}})
            continue
        for dim in sorted(part["dim"].unique()):
            at_d = part[part["dim"] == dim]
            betas = sorted(at_d["beta"].dropna().unique()) or [None]
            for beta in betas:
                row = {**base, "beta": beta, "d": int(dim)}
                for model in models:
                    own = at_d[at_d["model"] == model]
                    has_beta = own["beta"].notna().any()
                    row[model] = _capacity(own[own["beta"] == beta] if has_beta else own)
                rows.append(row)
    return rows


def capacity_table(
    title: str, capacity: pd.DataFrame, summary: pd.DataFrame, params: list[str], threshold: Any = None
) -> Table:
    """The merged capacity sweep: job, parameters, beta, d, status, then one capacity column per model."""
    params = [p for p in params if p not in SHOWN_BY_CAPACITY]
    models = list(dict.fromkeys(capacity["model"]))
    rows = capacity_rows(capacity, summary, params)
    table = _table(title)
    table.caption = "capacity: largest N with success >= " + (
        f"{threshold:g}" if isinstance(threshold, float) else "threshold"
    )
    table.caption_justify = "left"
    for column in ("job", *params, "beta", "d", "status"):
        table.add_column(
            column, justify="left" if column == "status" else "right", no_wrap=column != "status"
        )
    for model in models:
        table.add_column(model, justify="right", overflow="fold")
    for row in rows:
        style = None if row["status"] == "ok" else "red"
        values = [cell(row.get(c)) for c in ("job", *params, "beta", "d")] + [str(row["status"])]
        table.add_row(*values, *(row[m] for m in models), style=style)
    return table
