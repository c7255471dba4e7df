"""A run's objective for hyper-parameter search: ``optimized_metric=<key>`` names a number of its
``summary.json`` (dotted for nested entries: ``kinds.single``), which a multirun job returns to the sweeper.

Hydra's Optuna sweeper (``hydra/sweeper=optuna``, presets in ``conf/hparams_search/``) reads each job's return
value as the trial's value; a failed job returns None, which the sweeper records as a failed trial.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hopfield_cli.errors import UsageError


def numbers(summary: dict[str, Any], prefix: str = "") -> list[str]:
    """The keys of ``summary`` that hold numbers, nested ones dotted."""
    keys = []
    for key, value in summary.items():
        if isinstance(value, dict):
            keys += numbers(value, f"{prefix}{key}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            keys.append(f"{prefix}{key}")
    return keys


def read_metric(folder: Path | str, name: str) -> float:
    """``name`` of ``<folder>/summary.json`` as a float; UsageError naming the numbers it does hold."""
    path = Path(folder) / "summary.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError("optimized_metric", f"cannot read {path}: {exc}") from None
    value: Any = summary
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            allowed = ", ".join(numbers(summary)) or "none"
            raise UsageError("optimized_metric", f"'{name}' is not in {path}; its numbers: {allowed}")
        value = value[part]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError("optimized_metric", f"'{name}' in {path} is not a number: {value!r}")
    return float(value)


def is_optuna(cfg: Any) -> bool:
    """Whether the composed config's sweeper is Hydra's Optuna sweeper."""
    from omegaconf import OmegaConf

    target = str(OmegaConf.select(cfg, "hydra.sweeper._target_", default="") or "")
    return "optuna" in target.lower()


def check_sweeper(cfg: Any) -> None:
    """The Optuna sweeper needs a number per job: ``optimized_metric`` must be set."""
    from omegaconf import OmegaConf

    if is_optuna(cfg) and not OmegaConf.select(cfg, "optimized_metric", default=None):
        raise UsageError(
            "optimized_metric",
            "hydra/sweeper=optuna needs the number each job returns: optimized_metric=<summary.json key> "
            "(e.g. success_rate), or a preset: hparams_search=retrieve_beta",
        )
