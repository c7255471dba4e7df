"""One figure of a whole sweep (``summary.png`` in the sweep folder), drawn from the merged tables.

- capacity-sweep: capacity vs d (log-log) per model and job parameters; with a single d, success rate vs N.
- retrieve: success rate vs the first numeric swept parameter, one line per value of the others.
- metastable-scan: the fraction of metastable fixed points vs beta, one line per job.
- anything else: the first headline number per job, as bars.

Drawn on a matplotlib ``Figure`` with the Agg canvas (no pyplot, no global state) and saved atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hopfield_cli.report.files import atomic_write


def _label(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items()) or "all"


def _lines(ax: Axes, frame: pd.DataFrame, x: str, y: str, by: list[str]) -> None:
    """One line per group of ``by`` (all of ``frame`` when ``by`` is empty), sorted along ``x``."""
    groups = frame.groupby(by, dropna=False, sort=True) if by else [((), frame)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        part = part.sort_values(x)
        ax.plot(part[x], part[y], marker="o", label=_label(dict(zip(by, key, strict=True))))
    if by:
        ax.legend(fontsize="small")


def _numeric(frame: pd.DataFrame, column: str) -> bool:
    return (
        column in frame.columns
        and pd.api.types.is_numeric_dtype(frame[column])
        and frame[column].nunique() > 1
    )


def _others(params: list[str], frame: pd.DataFrame, *skip: str) -> list[str]:
    return [p for p in params if p not in skip and p in frame.columns and frame[p].nunique(dropna=False) > 1]


def _capacity(ax: Axes, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]) -> bool:
    capacity = tables.get("capacity")
    if (
        capacity is not None
        and {"dim", "capacity"} <= set(capacity.columns)
        and capacity["dim"].nunique() > 1
    ):
        by = [c for c in ("model", "beta") if c in capacity.columns and capacity[c].nunique() > 1]
        _lines(ax, capacity, "dim", "capacity", by + _others(params, capacity, "dim", "dims", *by))
        ax.set(xscale="log", yscale="log", xlabel="dimension d", ylabel="capacity (largest N with success)")
        return True
    results = tables.get("results")
    if results is None or not {"num_patterns", "success_rate"} <= set(results.columns):
        return False
    keys = ["job", *[c for c in ("model", "beta", "dim") if c in results.columns]]
    rates = results.groupby([*keys, "num_patterns"], dropna=False, as_index=False)["success_rate"].mean()
    extra = [p for p in params if p not in rates.columns]
    rates = rates.merge(summary[["job", *extra]], on="job", how="left")
    by = [c for c in keys[1:] if rates[c].nunique() > 1]
    _lines(ax, rates, "num_patterns", "success_rate", by + _others(params, rates, *by))
    ax.set(xscale="log", xlabel="stored patterns N", ylabel="success rate", ylim=(-0.02, 1.02))
    return True


def _retrieve(ax: Axes, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]) -> bool:
    ok = summary[summary["status"] == "ok"]
    x = next((p for p in params if _numeric(ok, p)), None)
    if x is None or "success_rate" not in ok.columns:
        return False
    _lines(ax, ok, x, "success_rate", _others(params, ok, x))
    ax.set(xlabel=x, ylabel="success rate", ylim=(-0.02, 1.02))
    if ok[x].min() > 0 and ok[x].max() / ok[x].min() >= 16:
        ax.set_xscale("log")
    return True


def _metastable(ax: Axes, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]) -> bool:
    betas = tables.get("betas")
    if betas is None or not {"beta", "frac_metastable"} <= set(betas.columns):
        return False
    by = [p for p in params if p in betas.columns and p != "beta"] or ["job"]
    _lines(ax, betas, "beta", "frac_metastable", by)
    ax.set(xscale="log", xlabel="beta", ylabel="fraction metastable", ylim=(-0.02, 1.02))
    return True


def _bars(ax: Axes, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]) -> bool:
    skip = {"job", "status", "results_rows", "error", *params}
    metric = next(
        (c for c in summary.columns if c not in skip and pd.api.types.is_numeric_dtype(summary[c])), None
    )
    if metric is None:
        return False
    labels = [_label({p: r[p] for p in params}) for r in summary.to_dict("records")]
    colours = ["tab:blue" if s == "ok" else "tab:red" for s in summary["status"]]
    ax.bar(range(len(summary)), summary[metric].fillna(0), color=colours)
    ax.set_xticks(range(len(summary)), labels, rotation=30, ha="right", fontsize="small")
    ax.set(ylabel=metric, xlabel="job (red: failed or missing)")
    return True


DRAW: dict[str, Callable[..., bool]] = {
    "capacity_sweep": _capacity,
    "retrieve": _retrieve,
    "metastable_scan": _metastable,
}


def save_sweep_figure(
    path: Path, command: str, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]
) -> Path | None:
    """Draw the sweep's figure into ``path`` (temp file + rename); None when there is nothing to draw."""
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    drawn = DRAW.get(command, _bars)(ax, tables, summary, params) or _bars(ax, tables, summary, params)
    if not drawn:
        return None
    ok = int((summary["status"] == "ok").sum())
    ax.set_title(f"{command or 'sweep'}: {ok} of {len(summary)} jobs ok", fontsize="medium")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
