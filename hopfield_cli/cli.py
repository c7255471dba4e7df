"""The `hopfield` command: a Typer app whose subcommands hand their arguments to the Hydra shell (``app/``).

Typer owns the command names and ``--version``; everything after a subcommand's name goes unchanged to
``app.run.launch`` (overrides, -m sweeps, --cfg, --info, -cd, hydra.run.dir=..., -h/--help).
"""

from __future__ import annotations

import sys

try:  # Ctrl-C while typer and the configs' schemas load: one line, no traceback
    from pathlib import Path

    import typer

    from hopfield_cli import __version__
    from hopfield_cli.app.commands import COMMANDS
    from hopfield_cli.app.completion import CompletingCommand, script
    from hopfield_cli.errors import UsageError
    from hopfield_cli.report.console import replace_unencodable
except KeyboardInterrupt:
    sys.stderr.write("interrupted: hopfield stopped while starting; nothing was written\n")
    raise SystemExit(130) from None

HYDRA_CONTEXT = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}

app = typer.Typer(
    name="hopfield",
    help="Experiment runner for modern Hopfield networks (Ramsauer et al., ICLR 2021).\n\n"
    "Each subcommand takes Hydra overrides: key=value, +key=value, group=option, -m for sweeps; "
    "`hopfield <command> --help` lists its fields.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hopfield {__version__}")
        raise typer.Exit()


def _completion(shell: str | None) -> None:
    if shell:
        typer.echo(script(shell), nl=False)
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
    completion: str = typer.Option(
        None,
        "--completion",
        metavar="SHELL",
        help="Print the shell completion script for SHELL (bash, zsh, fish) and exit.",
        callback=_completion,
        is_eager=True,
    ),
) -> None:
    """Experiment runner for modern Hopfield networks."""
    replace_unencodable()  # LC_ALL=C, PYTHONIOENCODING=ascii: a '?' for what cannot be shown, not a crash


def interrupted(name: str) -> None:
    """Ctrl-C outside a run's own handler (``app.run.tasks``: while torch and Hydra load, or between sweep jobs)."""
    sys.stderr.write(f"interrupted: hopfield {name} stopped; no file was left half-written\n")
    raise SystemExit(130)


def _add(name: str) -> None:
    def command(ctx: typer.Context) -> None:
        try:
            from hopfield_cli.app.run.launch import launch

            launch(name, ctx.args)
        except KeyboardInterrupt:
            interrupted(name)

    command.__doc__ = COMMANDS[name].summary
    app.command(name, cls=CompletingCommand, context_settings=HYDRA_CONTEXT, add_help_option=False)(command)


for _name in COMMANDS:
    _add(_name)


@app.command("collect")
def collect(
    sweep_dir: Path = typer.Argument(
        ..., help="A multirun folder, e.g. multirun/2026-11-26/10-00-00-capacity_sweep"
    ),
) -> None:
    """Merge a sweep's jobs: results.parquet/csv, summary.csv and summary.png in the sweep folder.

    Exit status 1 when a job failed or is missing (still running, or killed); the other jobs are merged all the same.
    """
    from hopfield_cli.app.run.launch import fail
    from hopfield_cli.app.sweep.merge import collect_sweep, read_outcome

    try:
        collect_sweep(sweep_dir)
    except UsageError as error:
        fail(error)
        return
    except KeyboardInterrupt:
        interrupted("collect")
    lines = read_outcome(sweep_dir)
    for line in lines:
        typer.echo(f"error: {line}", err=True)
    if lines:
        raise SystemExit(1)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
