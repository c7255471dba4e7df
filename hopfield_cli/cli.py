"""The `hopfield` command: a Typer app whose subcommands hand their arguments to Hydra.

Typer owns the command names, `--help` and `--version`; everything after the subcommand name goes to
Hydra unchanged (overrides, -m sweeps, --cfg, --info, -cd, hydra.run.dir=...). `run_hydra` is the one
place that does this hand-over.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hopfield_cli import __version__
from hopfield_cli.errors import UsageError

if TYPE_CHECKING:
    from hopfield_cli.collect import SweepReport

HYDRA_CONTEXT = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}

app = typer.Typer(
    name="hopfield",
    help="Experiment runner for modern Hopfield networks (Ramsauer et al., ICLR 2021).\n\n"
    "Each subcommand takes Hydra overrides: key=value, +key=value, group=option, -m for sweeps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def config_dir() -> str:
    """The folder of primary configs: inside the installed package, else the checkout's top-level conf/."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parent / "conf"):
        if (candidate / "store.yaml").is_file():
            return str(candidate)
    raise RuntimeError(f"hopfield configs not found next to {here}")


def fail(error: UsageError) -> None:
    """Print a user error as one line on stderr and exit 2."""
    from hopfield_cli.tasks import error_line

    typer.echo(f"error: {error_line(error)}", err=True)
    raise SystemExit(error.exit_code)


def run_hydra(command: str, args: list[str]) -> None:
    """Hand ``args`` to the Hydra task of ``command`` exactly as if typed after a Hydra app's name."""
    from hopfield_cli import tasks
    from hopfield_cli.preflight import parse_hydra_args, preflight

    if any(a in ("--help", "-h") for a in args):
        from hopfield_cli.help import print_command_help

        print_command_help(command, config_dir())
        return
    parsed = parse_hydra_args(args)
    if not (parsed.hydra_help or parsed.shell_completion):
        try:
            preflight(command, config_dir(), parsed)
        except UsageError as error:
            if os.environ.get("HYDRA_FULL_ERROR") == "1":
                raise
            fail(error)
    main_fn: Callable[[], None] = tasks.hydra_main(command, config_dir())
    saved_argv = sys.argv
    sys.argv = [f"hopfield {command}", *args]
    try:
        main_fn()
    finally:
        sys.argv = saved_argv
    if "hopfield_cli.collect" in sys.modules:  # a multirun ended here; its MergeCallback left a report
        from hopfield_cli.collect import pop_reports

        for report in pop_reports():
            exit_if_not_ok(report)


def exit_if_not_ok(report: SweepReport) -> None:
    """After a sweep: one line per job that failed or is missing, then exit 1; nothing if all are ok."""
    if report.error:
        typer.echo(f"error: {report.sweep_dir}: {report.error}", err=True)
        raise SystemExit(1)
    if not report.not_ok:
        return
    for job in report.not_ok:
        typer.echo(f"error: {job.describe()}", err=True)
    typer.echo(
        f"error: {len(report.not_ok)} of {len(report.jobs)} jobs not ok; the others' results are merged in "
        f"{report.sweep_dir}",
        err=True,
    )
    raise SystemExit(1)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hopfield {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    """Experiment runner for modern Hopfield networks."""


@app.command("store", context_settings=HYDRA_CONTEXT, add_help_option=False)
def store(ctx: typer.Context) -> None:
    """Build N patterns (random, sphere, correlated, a file or images) and save one safetensors memory."""
    run_hydra("store", ctx.args)


@app.command("retrieve", context_settings=HYDRA_CONTEXT, add_help_option=False)
def retrieve(ctx: typer.Context) -> None:
    """Corrupt stored patterns, retrieve them with a model; one row per query in results.parquet/csv."""
    run_hydra("retrieve", ctx.args)


@app.command("capacity-sweep", context_settings=HYDRA_CONTEXT, add_help_option=False)
def capacity_sweep(ctx: typer.Context) -> None:
    """Measure storage capacity per model, beta and dimension, with the theory beside it."""
    run_hydra("capacity-sweep", ctx.args)


@app.command("metastable-scan", context_settings=HYDRA_CONTEXT, add_help_option=False)
def metastable_scan(ctx: typer.Context) -> None:
    """Fixed-point kinds (global, metastable, single) across beta; classify attention heads."""
    run_hydra("metastable-scan", ctx.args)


@app.command("collect")
def collect(
    sweep_dir: Path = typer.Argument(
        ..., help="A multirun folder, e.g. multirun/2026-11-26/10-00-00-capacity_sweep"
    ),
) -> None:
    """Merge a sweep's jobs: results.parquet/csv, summary.csv and summary.png in the sweep folder.

    Exit status 1 when a job failed or is missing (still running, or killed); the other jobs are merged all the same.
    """
    from hopfield_cli.collect import collect_sweep

    try:
        report = collect_sweep(sweep_dir)
    except UsageError as error:
        fail(error)
        return
    exit_if_not_ok(report)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
