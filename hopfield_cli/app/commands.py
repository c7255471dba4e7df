"""The table of commands: each subcommand's config name, schema, experiment, help line and examples.

An explicit table (no strings handed to importlib): each command imports its experiment module when it runs
or weighs a run, so a config error or ``--help`` never pays for torch. What a command is lives here, once:
adding one means one ``Command`` row, its schema in ``config.commands`` and its experiment module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from hopfield_cli.config.commands import COMMAND_SCHEMAS


# Each command's experiment module, imported when first needed. A module has ``run(cfg, run_dir)`` and
# ``footprint(cfg)`` (the memory terms of ``experiments.footprint`` that ``app.check.checks`` weighs before any work).
def _store(cfg: Any) -> ModuleType:
    from hopfield_cli.experiments import store

    return store


def _retrieve(cfg: Any) -> ModuleType:
    from hopfield_cli.experiments import retrieve

    return retrieve


def _capacity_sweep(cfg: Any) -> ModuleType:
    from hopfield_cli.experiments.capacity_sweep import sweep

    return sweep


def _metastable_scan(cfg: Any) -> ModuleType:
    from hopfield_cli.experiments.metastable_scan import scan

    return scan


def _attention_heads(cfg: Any) -> ModuleType:
    if cfg.attention is None:  # pretrained=minilm|FOLDER: run the model, classify its heads
        from hopfield_cli.experiments.attention_heads import pretrained

        return pretrained
    from hopfield_cli.experiments.attention_heads import from_file

    return from_file


def _train(cfg: Any) -> ModuleType:
    from hopfield_cli.experiments.train import run

    return run


def _reproduce(cfg: Any) -> Any:
    from hopfield_cli.app.check.checks import check_typed
    from hopfield_cli.app.run.reproduce import Reproduce

    return Reproduce(check=lambda name, typed: check_typed(COMMANDS[name], typed))


# The checks of ``app.checks.check_resources``, in order, by name.
MODEL_CHECKS = ("families", "device", "budget", "footprint")  # a core model family at a size the config sets


@dataclass(frozen=True)
class Command:
    """One subcommand: ``hopfield <name>`` composes ``conf/<config_name>.yaml`` (schema ``schema``), checks it
    (``checks``, ``footprint``) and calls ``run``, which writes the ``tables`` (Parquet + CSV) and a
    ``summary.json`` in its results folder."""

    name: str
    config_name: str
    experiment: Callable[[Any], Any]  # the module (or object) with run(cfg, run_dir) and footprint(cfg)
    summary: str
    examples: tuple[str, ...]
    tables: tuple[str, ...]  # the stems of its result tables, the first one row per measured unit
    checks: tuple[str, ...] = MODEL_CHECKS
    resumable: bool = False  # keeps finished cells in cells.jsonl and takes resume=<folder>

    @property
    def schema(self) -> type:
        return COMMAND_SCHEMAS[self.config_name]

    def run(self, cfg: Any, run_dir: Path) -> Any:
        """The experiment, in ``run_dir`` (``tasks.run_single``/``run_job`` call it with the log and errors)."""
        return self.experiment(cfg).run(cfg, run_dir)

    def footprint(self, cfg: Any) -> list[Any]:
        """The memory terms of a run, from its config and its inputs' headers, before anything is allocated."""
        return list(getattr(self.experiment(cfg), "footprint", lambda _cfg: [])(cfg))


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command(
            "store",
            "store",
            _store,
            "Build N patterns (random, sphere, correlated, a file or images) and save one safetensors memory.",
            (
                "hopfield store num_patterns=1000 dim=64 out=mem.safetensors",
                "hopfield store patterns=sphere patterns.radius_k=3 dim=20",
                "hopfield store patterns=correlated patterns.correlation=0.3 num_patterns=500",
            ),
            tables=(),
        ),
        Command(
            "retrieve",
            "retrieve",
            _retrieve,
            "Corrupt stored patterns, retrieve them with a model; one row per query in results.parquet/csv.",
            (
                "hopfield retrieve corruption.p=0.2 beta=8",
                "hopfield retrieve model=classical model.update_rule=sync num_patterns=8 dim=64",
                "hopfield retrieve model=dense model.n=4 num_patterns=200 corruption=flip_bernoulli",
                "hopfield retrieve -m beta=0.5,2,8 corruption=noise corruption.sigma=0.3",
            ),
            tables=("results",),
        ),
        Command(
            "capacity-sweep",
            "capacity_sweep",
            _capacity_sweep,
            "Measure storage capacity per model, beta and dimension, with the theory beside it.",
            (
                "hopfield capacity-sweep dim=64 beta=8",
                "hopfield capacity-sweep models=[modern,classical,dense] families.dense.n=4 dims=[16,32]",
                "hopfield capacity-sweep patterns=sphere patterns.radius_k=1 betas=[1,4,16] trials=10",
            ),
            tables=("results", "capacity"),
            resumable=True,
        ),
        Command(
            "metastable-scan",
            "metastable_scan",
            _metastable_scan,
            "Fixed-point kinds (global average, metastable state, single pattern) across beta.",
            (
                "hopfield metastable-scan",
                "hopfield metastable-scan clusters=8 cluster_spread=0.05 num_patterns=128",
                "hopfield metastable-scan clusters=0 num_patterns=256 num_betas=12",
            ),
            tables=("betas", "fixed_points"),
            resumable=True,
        ),
        Command(
            "attention-heads",
            "attention_heads",
            _attention_heads,
            "Classify attention heads into the paper's classes I-IV by k90 (Section 4).",
            ("hopfield attention-heads attention=bert_attentions.safetensors",),
            tables=("attention_heads", "attention_queries"),
            checks=("footprint",),
        ),
        Command(
            "train",
            "train",
            _train,
            "Train a Hopfield layer (or a baseline) on a task; one row per epoch and split, the model as safetensors.",
            (
                "hopfield train experiment=latch_hopfield",
                "hopfield train task=bit_pattern layer=pooling epochs=10",
                "hopfield train -m task=latch layer=hopfield,pooling,lookup,lstm seed=0,1",
            ),
            tables=("results",),
            checks=("device", "footprint"),
            resumable=True,
        ),
        Command(
            "reproduce",
            "reproduce",
            _reproduce,
            "Re-measure the paper's claims; report.md with theory, measured, tolerance and PASS/FAIL per claim.",
            (
                "hopfield reproduce profile=quick",
                "hopfield reproduce profile=full attention=examples/attentions.safetensors",
                "hopfield reproduce claims=[eq3_attention,energy_descent]",
            ),
            tables=("claim_cells",),
            checks=("device",),  # its sub-runs are composed and checked as their own commands (app/reproduce)
            resumable=True,
        ),
    )
}
