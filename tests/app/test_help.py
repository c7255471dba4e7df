"""`hopfield <command> --help`: each group's options with their own fields, and examples that run as printed."""

from __future__ import annotations

import shlex

import pytest

from hopfield_cli.app.commands import COMMANDS


def examples(text: str) -> list[list[str]]:
    """The example command lines printed under 'Examples:', as argument lists after `hopfield`."""
    lines = text.split("Examples:", 1)[1].splitlines()
    return [shlex.split(ln.strip())[1:] for ln in lines if ln.strip().startswith("hopfield ")]


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_help_example_runs_as_printed(run_cli, monkeypatch, tmp_path, command):
    """Each example, copied from the help text, composes and passes every check (``--cfg job``; a sweep is
    checked combination by combination without launching)."""
    from hopfield_cli.app.check import preflight
    from hopfield_cli.app.run import launch

    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr
    found = examples(proc.stdout)
    assert found, proc.stdout
    checked = []
    monkeypatch.setattr(
        launch,
        "run_sweep",
        lambda hydra, cmd, name, overrides: checked.append(
            preflight.check_sweep(hydra, cmd, name, overrides)
        ),
    )
    for args in found:
        assert args[0] == command
        run = [*args, "--cfg", "job"] if "-m" not in args else args
        proc = run_cli(*run)
        assert proc.returncode == 0, (args, proc.stderr)
    assert len(checked) == sum("-m" in args for args in found)


def test_help_keeps_square_brackets():
    import io
    from contextlib import redirect_stdout

    from hopfield_cli.app.help import print_command_help

    out = io.StringIO()
    with redirect_stdout(out):
        print_command_help(COMMANDS["capacity-sweep"])
    assert "dims=[16,32]" in out.getvalue() and "models=[modern,classical,dense]" in out.getvalue()


def test_help_lists_each_groups_options_with_their_own_fields(run_cli):
    proc = run_cli("retrieve", "--help")
    text = proc.stdout
    assert "model=<option>" in text and "patterns=<option>" in text and "corruption=<option>" in text
    for option_field in (
        "model.n",
        "model.alpha",
        "model.update_rule",
        "patterns.radius_k",
        "corruption.sigma",
    ):
        assert option_field in text, option_field
    proc = run_cli("capacity-sweep", "--help")
    assert "model=<option>" not in proc.stdout and "families.dense.n" in proc.stdout
