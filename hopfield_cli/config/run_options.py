"""Fields every command has, about how a run is carried out rather than what it measures (issue 25):
its CPU threads, ``estimate=true`` (the memory and time of the run, without running it), the objective a
hyper-parameter search optimises (``optimized_metric``, a number of the run's ``summary.json``) and the
trackers it reports to (``logger=``, ``tags=``, ``run_name=``)."""

from __future__ import annotations

from dataclasses import dataclass

from hopfield_cli.config.fields import opt
from hopfield_cli.config.loggers import Loggers
from hopfield_cli.errors import Int, OneOf, Text


@dataclass
class FigureOptions:
    """How every figure of a run is written (``report.figures.save``)."""

    format: str = opt("png", "png | pdf | svg (vector, for a paper)", OneOf(("png", "pdf", "svg")))
    dpi: int | None = opt(
        None, "dots per inch of raster output; null = each figure's own (100-120)", Int(30, 1200)
    )


@dataclass
class RunOptions:
    """Inherited by each command's schema (``config.commands``)."""

    threads: int | None = opt(
        None, "CPU threads (torch.set_num_threads); null = torch's default (OMP_NUM_THREADS)", Int(1, 4096)
    )
    estimate: bool = opt(False, "print the run's memory and time estimate and exit, running nothing")
    optimized_metric: str | None = opt(
        None,
        "the summary.json number a job returns, for hydra/sweeper=optuna (e.g. success_rate)",
        Text("a summary.json key, e.g. success_rate or kinds.single"),
    )
    logger: Loggers = opt(
        Loggers(), "trackers: logger=csv|tensorboard|mlflow|wandb, several: logger=[csv,mlflow]"
    )
    tags: list[str] = opt([], "tags of the run in its trackers, e.g. tags=[baseline,d64]")
    figures: FigureOptions = opt(
        FigureOptions(), "figures.format=png|pdf|svg and figures.dpi of every figure"
    )
    run_name: str | None = opt(
        None, "the run's name in its trackers; null = <command>-<run folder name>", Text("a name")
    )
