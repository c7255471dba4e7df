"""Hydra task functions, one per subcommand, importable at module level (launchers pickle them).

Each task validates its composed config, then hands it to its experiment module with the run folder.
A UsageError raised anywhere inside becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig

from hopfield_cli.config import register_configs, validate
from hopfield_cli.errors import UsageError

# subcommand -> module in hopfield_cli.experiments holding `run(cfg, run_dir)`
EXPERIMENTS = {
    "store": "store",
    "retrieve": "retrieve",
    "capacity-sweep": "capacity_sweep",
    "metastable-scan": "metastable_scan",
}


def run_task(command: str, cfg: DictConfig) -> None:
    """Validate ``cfg`` and run the experiment of ``command`` in Hydra's output folder."""
    from hydra.core.hydra_config import HydraConfig

    try:
        validate(command, cfg)
        run_dir = Path(HydraConfig.get().runtime.output_dir)
        experiment = importlib.import_module(f"hopfield_cli.experiments.{EXPERIMENTS[command]}")
        experiment.run(cfg, run_dir)
    except UsageError as error:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {error.field}: {error.message}", file=sys.stderr)
        raise SystemExit(error.exit_code) from None


def store_task(cfg: DictConfig) -> None:
    run_task("store", cfg)


def retrieve_task(cfg: DictConfig) -> None:
    run_task("retrieve", cfg)


def capacity_sweep_task(cfg: DictConfig) -> None:
    run_task("capacity-sweep", cfg)


def metastable_scan_task(cfg: DictConfig) -> None:
    run_task("metastable-scan", cfg)


TASKS: dict[str, Callable[[DictConfig], None]] = {
    "store": store_task,
    "retrieve": retrieve_task,
    "capacity-sweep": capacity_sweep_task,
    "metastable-scan": metastable_scan_task,
}


def hydra_main(command: str, config_dir: str) -> Callable[[], None]:
    """The ``@hydra.main`` entry of ``command``, reading its primary config from ``config_dir``."""
    import hydra

    register_configs()
    return hydra.main(version_base="1.3", config_path=config_dir, config_name=command.replace("-", "_"))(
        TASKS[command]
    )
