"""`hopfield reproduce`: compose each claim's sub-run exactly as its own command would, then run the claims.

A claim measured by a named experiment (``conf/experiment/<name>.yaml``) gets its config from the same
composition and the same checks (``checks.check_typed``) as ``hopfield <command> experiment=<name> <profile
overrides>``, so the command that the report prints reproduces the claim's numbers alone. Composition needs a
Hydra object of its own; the one of the running job (GlobalHydra) is put back afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Check = Callable[[str, Any], None]  # (command name, typed config): the checks that command applies


@dataclass(frozen=True)
class Reproduce:
    """The experiment of ``hopfield reproduce``; ``check`` applies a sub-run's own command's checks (given by
    the command table, which this module cannot import: the table imports it)."""

    check: Check

    def run(self, cfg: Any, run_dir: Path) -> Any:
        from hopfield_cli.experiments.reproduce import run as reproduce

        return reproduce.run(cfg, run_dir, sub_configs(cfg, self.check))


def sub_configs(cfg: Any, check: Check) -> dict[str, Any]:
    """The typed config of every named experiment the selected claims run."""
    from hydra.core.global_hydra import GlobalHydra

    from hopfield_cli.app.check.compose import compose, create_hydra
    from hopfield_cli.experiments.reproduce.profiles import SUBRUNS, subrun_overrides
    from hopfield_cli.experiments.reproduce.run import needed_experiments

    needed = needed_experiments(cfg.claims)
    if not needed:
        return {}
    saved = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    try:
        hydra = create_hydra(None)
        out = {}
        for experiment in needed:
            command, config_name = SUBRUNS[experiment]
            overrides = subrun_overrides(cfg.profile, experiment, int(cfg.seed), str(cfg.device))
            out[experiment] = _checked(command, compose(hydra, config_name, overrides), check)
        return out
    finally:
        GlobalHydra.instance().clear()
        if saved is not None:
            GlobalHydra.instance().initialize(saved)


def _checked(command: str, composed: Any, check: Check) -> Any:
    """The typed sub-config after the checks its own command applies (``checks.check_typed``). Not
    ``preflight.checked``: that one starts from a user's overrides (unknown keys) and imports the command
    table, which imports this module."""
    from omegaconf import OmegaConf, open_dict

    with open_dict(composed):
        composed.pop("hydra", None)
    typed = OmegaConf.to_object(composed)
    check(command, typed)
    return typed
