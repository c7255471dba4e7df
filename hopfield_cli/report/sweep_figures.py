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

from hopfield_cli.report.figures import save


def _label(values: dict[str, Any]) -> str:
    """``model=modern beta=8``; a missing value (a family without beta: NaN) is left out."""
    shown = {k: v for k, v in values.items() if not (v is None or (isinstance(v, float) and v != v))}
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()) or "all"


MARKERS = ("o", "s", "^", "D", "v", "P", "X")
DASHES = ("-", "--", "-.", ":")
# summary.json entries that describe a job's setting, for the caption when every job has the same one.
SETTING_KEYS = ("model", "corruption", "num_patterns", "dim", "num_queries", "success_criterion", "beta")


def setting_caption(command: str, summary: pd.DataFrame, params: list[str]) -> str:
    """What the sweep held fixed (its jobs' common setting), what it swept, and how many jobs are ok."""
    fixed = []
    for key in SETTING_KEYS:
        if key in params or key not in summary.columns:
            continue
        values = summary[key].dropna().unique()
        if len(values) == 1:
            value = values[0]
            fixed.append(f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}")
    ok = int((summary["status"] == "ok").sum())
    swept = f"swept: {', '.join(params)}; " if params else ""
    return f"{command}: {' '.join(fixed)}; {swept}{ok} of {len(summary)} jobs ok".replace(": ; ", ": ")


def _lines(ax: Axes, frame: pd.DataFrame, x: str, y: str, by: list[str]) -> None:
    """One line per group of ``by`` (all of ``frame`` when ``by`` is empty), sorted along ``x``."""
    groups = list(frame.groupby(by, dropna=False, sort=True)) if by else [((), frame)]
    for i, (key, part) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        part = part.sort_values(x)
        # Series with equal values lie on each other: each its own marker and dash, the earlier ones drawn
        # larger and hollow, so one that coincides with another still shows around it.
        ax.plot(
            part[x],
            part[y],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=DASHES[i % len(DASHES)],
            markersize=max(10 - 1.5 * i, 4),
            markerfacecolor="none" if i < len(groups) - 1 else None,
            linewidth=max(2.4 - 0.4 * i, 1.0),
            label=_label(dict(zip(by, key, strict=True))),
        )
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
        by += _others(params, capacity, "dim", "dims", *by)
        # a family without beta measures the same in every beta job: one line, not one per job
        _lines(ax, capacity.drop_duplicates([*by, "dim", "capacity"]), "dim", "capacity", by)
        dims = sorted(capacity["dim"].unique())
        ax.set(yscale="log", xlabel="dimension d", ylabel="capacity (largest N with success)")
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_title("Capacity vs dimension across the sweep's jobs", fontsize="medium")
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
    ax.set_title("Success rate vs stored patterns across the sweep's jobs", fontsize="medium")
    return True


def _retrieve(ax: Axes, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]) -> bool:
    ok = summary[summary["status"] == "ok"]
    x = next((p for p in params if _numeric(ok, p)), None)
    if x is None or "success_rate" not in ok.columns:
        return False
    _lines(ax, ok, x, "success_rate", _others(params, ok, x))
    ax.set(xlabel=x, ylabel="fraction of queries retrieved", ylim=(-0.02, 1.02))
    ax.set_title(f"Retrieval success vs {x}", fontsize="medium")
    if ok[x].min() > 0 and ok[x].max() / ok[x].min() >= 16:
        ax.set_xscale("log")
    return True


def _metastable(ax: Axes, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]) -> bool:
    betas = tables.get("betas")
    if betas is None or not {"beta", "frac_metastable"} <= set(betas.columns):
        return False
    by = [p for p in params if p in betas.columns and p != "beta"] or ["job"]
    _lines(ax, betas, "beta", "frac_metastable", by)
    if "frac_unconverged" in betas.columns and bool((betas["frac_unconverged"] > 0).any()):
        for _key, part in betas.groupby(by, dropna=False, sort=True):  # no kind without a fixed point
            part = part.sort_values("beta")
            ax.plot(part["beta"], part["frac_unconverged"], color="0.5", linestyle=":", linewidth=1)
        ax.plot([], [], color="0.5", linestyle=":", label="unconverged (no kind), per job")
        ax.legend(fontsize="small")
    ax.set(xscale="log", xlabel="beta", ylabel="fraction metastable", ylim=(-0.02, 1.02))
    ax.set_title("Metastable fixed points vs beta, per job", fontsize="medium")
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


GRID_FILE = "retrieval_grid.npz"  # written by a retrieve job over an image memory
ROWS_FILE = "retrieval_by_beta.png"


KIND_ORDER = ("global", "metastable", "single")  # the order beta meets them (Section 2 of the paper)


def _telling_query(kinds: list[list[str]]) -> int:
    """The query whose kinds along the sorted jobs pass through most of global -> metastable -> single, in that
    order (the first such query; 0 when none moves)."""

    def score(q: int) -> int:
        seen = [k for k in dict.fromkeys(row[q] for row in kinds) if k in KIND_ORDER]
        return len(seen) if seen == sorted(seen, key=KIND_ORDER.index) else 0

    queries = range(min(len(row) for row in kinds))
    return max(queries, key=lambda q: (score(q), -q), default=0)


def save_retrieval_rows(sweep_dir: Path, summary: pd.DataFrame, params: list[str]) -> Path | None:
    """An image-memory sweep (``retrieve -m memory=... beta=a,b,c``): one row per job, sorted by beta, showing
    one query (the one that best shows global -> metastable -> single), what it retrieved and its target, each
    row marked retrieved or not. None without grids from at least two jobs."""
    import numpy as np
    import torch

    from hopfield_cli.report.figures import save_image_grid

    grids = []
    for record in summary.to_dict("records"):
        grid_file = sweep_dir / str(record["job"]) / GRID_FILE
        if grid_file.is_file():
            with np.load(grid_file) as grid:
                grids.append((record, {k: grid[k] for k in grid.files}))
    if len(grids) < 2:
        return None
    if "beta" in params:
        grids.sort(key=lambda g: float(g[0]["beta"]) if _is_number(g[0].get("beta")) else float("inf"))
    query = _telling_query([[str(k) for k in g["kind"]] for _, g in grids])
    side, centred = int(grids[0][1]["side"]), bool(grids[0][1]["centred"])
    rows = [
        (
            record,
            [torch.from_numpy(g[k][query]) for k in ("query", "retrieved", "target")],
            bool(g["success"][query]),
            str(g["kind"][query]),
        )
        for record, g in grids
    ]
    labels = [f"{_label({p: r[0].get(p) for p in params})}\n{r[3]}" for r in rows]
    query_rows, retrieved, targets = (torch.stack([r[1][i] for r in rows]) for i in range(3))
    kinds = " -> ".join(dict.fromkeys(r[3] for r in rows))
    return save_image_grid(
        sweep_dir / ROWS_FILE,
        query_rows,
        retrieved,
        targets,
        side,
        max_rows=len(rows),
        row_labels=labels,
        ok=[r[2] for r in rows],
        title=f"query {query} across the sweep: {kinds}",
        setting=f"{len(rows)} jobs" + ("; centred images: gray is the mean image" if centred else ""),
    )


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def save_sweep_figure(
    path: Path, command: str, tables: dict[str, pd.DataFrame], summary: pd.DataFrame, params: list[str]
) -> Path | None:
    """Draw the sweep's figure into ``path`` (temp file + rename); None when there is nothing to draw.

    A retrieve sweep over an image memory also gets ``retrieval_by_beta.png`` beside it (``save_retrieval_rows``).
    """
    if command == "retrieve":
        save_retrieval_rows(Path(path).parent, summary, params)
    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    drawn = DRAW.get(command, _bars)(ax, tables, summary, params) or _bars(ax, tables, summary, params)
    if not drawn:
        return None
    ok = int((summary["status"] == "ok").sum())
    if not ax.get_title():
        ax.set_title(f"{command or 'sweep'}: {ok} of {len(summary)} jobs ok", fontsize="medium")
    fig.text(0.01, 0.01, setting_caption(command, summary, params), fontsize=7, color="0.3", wrap=True)
    ax.grid(True, alpha=0.3)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save(fig, path, dpi=110)
