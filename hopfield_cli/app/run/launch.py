"""``hopfield <command> ARGS``: compose the config once, check it once, run it the way Hydra would.

A single run composes with Hydra's loader (``compose``), checks the typed config (``preflight.checked``), then
runs the experiment through Hydra's own ``run_job`` (run folder, ``.hydra/`` files, logging, callbacks), so
every usage error is one line before any folder exists and nothing is composed or checked twice.
A multirun checks every sweep combination first, then hands the sweep to Hydra's sweeper and launcher; each job
checks its own config (it may run elsewhere) and the merge callback writes ``sweep_status.json``, from which the
exit status is read. ``--cfg``, ``--info``, ``--hydra-help`` and shell completion go to ``hydra.main`` itself,
after the same composition check: ``hand_over`` is the one place that sets ``sys.argv`` for Hydra.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import typer

from hopfield_cli.app.check import preflight
from hopfield_cli.app.check.compose import check_shadowing, compose, config_dir, create_hydra
from hopfield_cli.app.check.named_experiments import check_experiment
from hopfield_cli.app.commands import COMMANDS, Command
from hopfield_cli.app.slurm import request as slurm
from hopfield_cli.errors import UsageError


def fail(error: UsageError) -> None:
    """Print a user error as one line on stderr and exit 2 (or raise it with HYDRA_FULL_ERROR=1)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise error
    typer.echo(f"error: {error.field}: {error.message}", err=True)
    raise SystemExit(error.exit_code)


# Names a command takes for one of its fields where the field's own name is a config group elsewhere:
# `hopfield attention-heads model=minilm` (the spelling) sets `pretrained` (`model=` is retrieve's group).
ALIASES = {"attention-heads": {"model": "pretrained"}}


def with_aliases(command_name: str, args: list[str]) -> list[str]:
    """``key=value`` arguments with an alias of this command renamed to the field it stands for."""
    aliases = ALIASES.get(command_name, {})
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        out.append(f"{aliases[key]}={value}" if sep and key in aliases else arg)
    return out


def launch(command_name: str, args: list[str]) -> None:
    """Run ``hopfield <command_name> <args>``."""
    from hopfield_cli.report.console import reset_stdout_error

    reset_stdout_error()
    try:
        os.getcwd()
    except OSError as exc:  # Hydra and every relative path need it
        fail(
            UsageError("cwd", f"the working folder cannot be used ({exc.strerror}; deleted?); cd to a folder")
        )
    command = COMMANDS[command_name]
    args = ["estimate=true" if a == "--dry-run" else a for a in args]  # --dry-run: estimate=true
    if any(a in ("--help", "-h") for a in args):
        from hopfield_cli.app.help import print_command_help

        print_command_help(command)
        return
    from hydra.errors import OverrideParseException

    args = with_aliases(command_name, args)
    parsed = preflight.parse_hydra_args(args)
    try:
        if parsed.config_path is not None:  # -cp DIR: taken as -cd DIR, or refused in one line
            args = preflight.config_path_as_dir(args, parsed, command.config_name)
            parsed = preflight.parse_hydra_args(args)
        if parsed.multirun and parsed.cfg:
            raise UsageError("--cfg", "cannot be combined with -m/--multirun; drop -m to print the config")
        if any(o.split("=", 1)[0].lstrip("+~") == "attention" for o in parsed.overrides) and (
            command.name == "metastable-scan"
        ):
            raise UsageError(
                "attention", "the head analysis is its own command: hopfield attention-heads attention=FILE"
            )
        preflight.check_nesting(list(parsed.overrides))
        preflight.check_group_values(list(parsed.overrides), parsed.config_dir)
        check_experiment(command.name, list(parsed.overrides), parsed.config_dir)
        hydra = create_hydra(parsed.config_dir)
        config_name = parsed.config_name or command.config_name
        check_shadowing(parsed.config_dir, config_name)
        if parsed.hydra_help or parsed.shell_completion or parsed.cfg or parsed.info:
            if not (parsed.hydra_help or parsed.shell_completion):
                compose(hydra, config_name, list(parsed.overrides))
            hand_over(command, args)
            return
        if parsed.multirun:
            run_sweep(hydra, command, config_name, list(parsed.overrides))
            return
        cfg = compose(hydra, config_name, list(parsed.overrides))
        preflight.check_output_folder(cfg, multirun=False)
        typed = preflight.checked(command, cfg)
    except OverrideParseException as exc:
        fail(preflight.override_syntax(exc, list(parsed.overrides)))
        return
    except UsageError as error:
        fail(error)
        return
    if getattr(typed, "estimate", False):
        print_estimate(command, typed)
        return
    run_once(hydra, cfg, config_name, command, typed)


def estimate_sweep(hydra: Any, command: Command, config_name: str, overrides: list[str]) -> None:
    """``-m ... estimate=true``: each job's estimate (those ``sweep_combinations`` lists), nothing run, no folder
    made. Before, the sweep ignored estimate=true and ran every job, with no memory check at all."""
    from hopfield_cli.report.console import say

    for i, combination in enumerate(preflight.sweep_combinations(overrides)):
        swept = [o for o in combination if o not in overrides]
        typed = preflight.checked(command, compose(hydra, config_name, combination))
        say(f"job {i}: {' '.join(swept) or '(no swept value)'}")
        print_estimate(command, typed, last=False)
    say("estimate only (estimate=true): no job was run")


def print_estimate(command: Command, typed: Any, *, last: bool = True) -> None:
    """``estimate=true``: the run's device, memory and time, printed; nothing is run and no folder made."""
    from hopfield_cli.app.check import resources
    from hopfield_cli.report.console import say

    resources.set_threads(getattr(typed, "threads", None))
    warning = resources.gpu_warning(getattr(typed, "device", None))
    if warning is not None:
        say(warning, err=True)
    say(resources.line(resources.describe(typed)))
    terms = command.footprint(typed)
    for line in resources.estimate_lines(command.name, typed, terms):
        say(line)
    if last:
        say("estimate only (estimate=true): nothing was run")


def run_once(hydra: Any, cfg: Any, config_name: str, command: Command, typed: Any) -> None:
    """Hydra's ``Hydra.run`` on the config already composed: run folder, logging, callbacks, the task."""
    from hydra._internal.callbacks import Callbacks
    from hydra.core.utils import run_job
    from hydra.types import HydraContext, RunMode
    from omegaconf import open_dict

    from hopfield_cli.app.run.run_folder import run_folder
    from hopfield_cli.app.run.tasks import run_single

    with open_dict(cfg):
        cfg.hydra.mode = RunMode.RUN
    callbacks = Callbacks(cfg)
    callbacks.on_run_start(config=cfg, config_name=config_name)
    with run_folder(cfg) as created:  # one run at a time in the folder; nothing left if Hydra cannot write it
        ret = run_job(
            hydra_context=HydraContext(config_loader=hydra.config_loader, callbacks=callbacks),
            task_function=lambda _task_cfg: run_single(command, typed, created),
            config=cfg,
            job_dir_key="hydra.run.dir",
            job_subdir_key=None,
            configure_logging=True,
        )
    callbacks.on_run_end(config=cfg, config_name=config_name, job_return=ret)
    _ = ret.return_value  # re-raises what the task raised (not a UsageError: run_single handled those)
    output_lost(os.path.abspath(os.path.expanduser(str(cfg.hydra.run.dir))))


def output_lost(folder: str) -> None:
    """A run whose stdout could not be written (a full device, a closed pipe) wrote its files first: end in
    one line that says so and where they are."""
    from hopfield_cli.report.console import stdout_error

    failed = stdout_error()
    if failed is not None:
        fail(UsageError("stdout", f"could not be written ({failed}); the results are complete in {folder}"))


def run_sweep(hydra: Any, command: Command, config_name: str, overrides: list[str]) -> None:
    """Check every combination, run the multirun, then exit 1 when a job failed or is missing."""
    from hopfield_cli.app.run.run_folder import sweep_folder
    from hopfield_cli.app.run.tasks import run_job
    from hopfield_cli.app.sweep.merge import read_outcome
    from hopfield_cli.app.sweep.objective import check_sweeper

    cfg = compose(hydra, config_name, overrides, multirun=True)
    preflight.check_launcher(cfg)
    check_sweeper(cfg)  # the Optuna sweeper needs optimized_metric
    slurm.check_request(cfg)  # a SLURM request no node can meet: refused before anything is queued
    preflight.check_output_folder(cfg, multirun=True)
    preflight.check_sweep(hydra, command, config_name, overrides)
    if cfg.get("estimate", False):  # -m ... estimate=true ran every job, memory unchecked (issue 26)
        estimate_sweep(hydra, command, config_name, overrides)
        return
    with sweep_folder(cfg, overrides) as pinned:  # one sweep at a time in the folder
        returns = hydra.multirun(
            config_name=config_name,
            task_function=functools.partial(run_job, command.name),
            overrides=[*pinned, "hydra.mode=MULTIRUN"],
        )
    sweep_dirs = {Path(str(r.hydra_cfg.hydra.sweep.dir)) for batch in returns or [] for r in batch}
    for sweep_dir in sorted(sweep_dirs):
        output_lost(str(sweep_dir))
    failed = False
    for sweep_dir in sorted(sweep_dirs):
        for line in read_outcome(sweep_dir):
            typer.echo(f"error: {line}", err=True)
            failed = True
    if failed:
        raise SystemExit(1)


def hand_over(command: Command, args: list[str]) -> None:
    """Let ``hydra.main`` handle ``args`` (``--cfg``, ``--info``, ``--hydra-help``, shell completion)."""
    import hydra
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()  # the check above initialised it; hydra.main initialises its own
    main = hydra.main(version_base="1.3", config_path=config_dir(), config_name=command.config_name)(_no_task)
    saved = sys.argv
    sys.argv = [f"hopfield {command.name}", *args]
    if "--info" in args or any(a.startswith("--info=") for a in args):
        import logging

        # Hydra's --info adds a plain stdout handler beside the [HYDRA] one the check above configured:
        # every line came out twice.
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
    try:
        if "--hydra-help" in args:
            text, ended = _captured(main)
            print(without_hydra_completion(text), end="")
            if ended is not None:
                raise ended
        else:
            main()
    finally:
        sys.argv = saved


def _captured(main: Any) -> tuple[str, SystemExit | None]:
    """What ``main()`` printed, and the SystemExit it ended with (Hydra exits after its help)."""
    import contextlib
    import io

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            main()
    except SystemExit as ended:
        return out.getvalue(), ended
    return out.getvalue(), None


def without_hydra_completion(help_text: str) -> str:
    """Hydra's help without its ``-sc install=bash`` flag: that completion would replace hopfield's own (the
    subcommands, fields and options) with one that fails on every TAB. Ours is named in its place."""
    lines, out, skipping = help_text.splitlines(keepends=True), [], False
    for line in lines:
        if line.startswith("--shell-completion"):
            skipping = True
            out.append("Shell completion : hopfield --completion bash|zsh|fish (hopfield --help says how)\n")
            continue
        if skipping and line.startswith("--"):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


def _no_task(_cfg: Any) -> None:
    """hydra.main needs a task; --cfg/--info/--hydra-help never run it."""
