"""The ``logger`` group (issue 25): experiment trackers a run reports to, several at once
(``logger=[csv,mlflow]``). Each option file in ``conf/logger/`` fills its own entry here (its package is
``logger.<name>``); an entry left null is a tracker not used. The trackers themselves are ``app.run.trackers``."""

from __future__ import annotations

from dataclasses import dataclass

from hopfield_cli.config.fields import opt
from hopfield_cli.errors import OneOf, Text


@dataclass
class CsvLogger:
    save_dir: str | None = opt(None, "folder of metrics.csv and params.yaml; null = <run folder>/csv", Text())


@dataclass
class TensorBoardLogger:
    save_dir: str | None = opt(None, "folder of the event files; null = <run folder>/tensorboard", Text())


@dataclass
class MlflowLogger:
    tracking_uri: str | None = opt(
        None, "e.g. file:./mlruns or sqlite:///mlflow.db; null = file:./mlruns", Text()
    )
    experiment_name: str | None = opt(None, "null = hopfield-<command>", Text("a name"))


@dataclass
class WandbLogger:
    project: str = opt("hopfield", "the W&B project", Text("a name"))
    entity: str | None = opt(None, "the W&B team or user; null = your default", Text("a name"))
    mode: str = opt(
        "offline",
        "offline (sync later: wandb sync) | online | disabled",
        OneOf(("offline", "online", "disabled")),
    )
    save_dir: str | None = opt(None, "folder of the wandb/ files; null = the run folder", Text())


@dataclass
class Loggers:
    """The trackers of a run (null: not used)."""

    csv: CsvLogger | None = None
    tensorboard: TensorBoardLogger | None = None
    mlflow: MlflowLogger | None = None
    wandb: WandbLogger | None = None


LOGGERS = {"csv": CsvLogger, "tensorboard": TensorBoardLogger, "mlflow": MlflowLogger, "wandb": WandbLogger}
