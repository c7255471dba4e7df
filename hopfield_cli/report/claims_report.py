"""`hopfield reproduce`'s report: report.md (and report.html), claims.csv/parquet and the environment.

report.md has, per claim: the paper's statement and where it is, the command that reproduces it alone, theory,
measured value, tolerance, the verdict (computed by the claim, copied here) and its figure. The HTML is the
same Markdown rendered by markdown-it-py (CommonMark with tables; Rich's own Markdown parser).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from hopfield_cli.report.console import say, show
from hopfield_cli.report.files import device_description, versions, write_run_info, write_table, write_text

SYMBOL = {"PASS": "PASS", "FAIL": "**FAIL**", "NOT APPLICABLE": "NOT APPLICABLE"}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:70em;margin:2em auto;padding:0 1em;line-height:1.4}"
    "table{border-collapse:collapse;font-size:90%}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top}"
    "img{max-width:100%}code{background:#f4f4f4;padding:0 .2em}"
)


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def claims_table_md(table: pd.DataFrame) -> str:
    """The summary table: claim, where, theory, measured, tolerance, verdict."""
    lines = [
        "| claim | where | theory | measured | tolerance | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        lines.append(
            f"| {_cell(r.title)} (`{r.claim}`) | {_cell(r.where)} | {_cell(r.theory)} | {_cell(r.measured)} "
            f"| {_cell(r.tolerance)} | {SYMBOL.get(r.verdict, r.verdict)} |"
        )
    return "\n".join(lines)


def report_markdown(table: pd.DataFrame, profile: str, seed: int, device: str, seconds: float) -> str:
    counts = table.verdict.value_counts().to_dict()
    tally = ", ".join(f"{counts.get(v, 0)} {v}" for v in ("PASS", "FAIL", "NOT APPLICABLE"))
    env = versions()
    parts = [
        '# Ramsauer et al. (2021), "Hopfield Networks is All You Need": claims re-measured',
        "",
        f"`hopfield reproduce profile={profile} seed={seed}`: {len(table)} claims, {tally}; "
        f"{seconds:.1f} s on {device_description(device)}.",
        "",
        "Every verdict is computed from the numbers: PASS when the measured value meets the theory within the "
        "tolerance, FAIL when it does not, NOT APPLICABLE when the theory makes no prediction for the case.",
        "",
        claims_table_md(table),
        "",
        "## Claims",
    ]
    for r in table.itertuples():
        parts += [
            "",
            f"### {r.title}: {SYMBOL.get(r.verdict, r.verdict)}",
            "",
            f"- **Paper**: {r.statement} ({r.where})",
            f"- **Reproduce alone**: `{r.command}`",
            f"- **Theory**: {r.theory}",
            f"- **Measured**: {r.measured}",
            f"- **Tolerance**: {r.tolerance}",
            f"- **Verdict**: {r.verdict}",
        ]
        if r.detail:
            parts.append(f"- **How**: {r.detail}")
        if r.figure:
            parts += ["", f"![{r.claim}]({r.figure})"]
    parts += [
        "",
        "## Environment",
        "",
        f"- device: {device_description(device)}",
        f"- seed: {seed}; profile: {profile}",
        *(f"- {k}: {v}" for k, v in env.items()),
        "",
        "Tables: `claims.csv`, `claims.parquet` (one row per claim); sub-runs in `runs/<experiment>/`.",
    ]
    return "\n".join(parts) + "\n"


def markdown_to_html(text: str, title: str) -> str | None:
    """The Markdown rendered by markdown-it-py (tables on); None when the library is missing."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return None
    body = MarkdownIt("commonmark").enable("table").render(text)
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def write_report(
    root: Path, table: pd.DataFrame, profile: str, seed: int, device: str, seconds: float, with_html: bool
) -> None:
    """claims.csv/parquet, report.md, report.html (if asked), run_info.json (versions, device, seed)."""
    write_table(table, root, "claims")
    text = report_markdown(table, profile, seed, device, seconds)
    write_text(root / "report.md", text)
    if with_html:
        page = markdown_to_html(text, "hopfield reproduce")
        if page is not None:
            write_text(root / "report.html", page)
    write_run_info(root, "reproduce", seed, device, profile=profile, seconds=round(seconds, 3))


def print_verdicts(table: pd.DataFrame, seconds: float, reused: int, root: Path) -> None:
    from rich.table import Table

    out = Table(title=f"claims ({seconds:.1f} s; {reused} groups reused)", title_justify="left")
    for name in ("claim", "theory", "measured", "verdict"):
        out.add_column(name, overflow="fold")
    for r in table.itertuples():
        out.add_row(r.claim, str(r.theory), str(r.measured), r.verdict)
    show(out)
    say(f"report: {root / 'report.md'}")
