"""Named experiments (conf/experiment/): each composes under its own command, is listed by --help, and is
refused in one line under another command."""

from __future__ import annotations

import pytest

from hopfield_cli.app.check.named_experiments import named_experiments
from hopfield_cli.app.commands import COMMANDS
from tests.conftest import assert_one_clean_line, compose

EXPERIMENTS = sorted(named_experiments().items())


@pytest.mark.parametrize(("name", "experiment"), EXPERIMENTS, ids=[n for n, _ in EXPERIMENTS])
def test_each_experiment_names_a_command_and_composes_under_it(name, experiment):
    assert experiment.command in COMMANDS, f"{name}: first line must be '# <command>: <description>'"
    assert experiment.description
    typed = compose(COMMANDS[experiment.command].config_name, f"experiment={name}")
    assert type(typed) is COMMANDS[experiment.command].schema


def test_capacity_sphere_sets_what_it_says():
    typed = compose("capacity_sweep", "experiment=capacity_sphere")
    assert typed.patterns.name == "sphere" and typed.corruption.name == "noise"
    assert typed.dims == [8, 12, 16, 20] and typed.models == ["modern"]


def test_an_override_after_the_experiment_wins():
    typed = compose("capacity_sweep", "experiment=capacity_sphere", "trials=7")
    assert typed.trials == 7


def test_experiment_of_another_command_is_one_line(run_cli):
    ran = run_cli("retrieve", "experiment=capacity_sphere")
    line = assert_one_clean_line(ran, "experiment")
    assert "capacity-sweep" in line


def test_help_lists_the_commands_experiments(run_cli):
    ran = run_cli("capacity-sweep", "--help")
    assert ran.returncode == 0
    for name, experiment in EXPERIMENTS:
        assert (name in ran.stdout) == (experiment.command == "capacity-sweep")
