"""The table of commands: each subcommand's config name, schema, experiment, help line and examples.

An explicit table (no strings handed to importlib): each ``run`` imports its experiment when called, so a
config error or ``--help`` never pays for torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hopfield_cli.config.commands import COMMAND_SCHEMAS


def _store(cfg: Any, run_dir: Path) -> Any:
    from hopfield_cli.experiments import store

    return store.run(cfg, run_dir)


def _retrieve(cfg: Any, run_dir: Path) -> Any:
    from hopfield_cli.experiments import retrieve

    return retrieve.run(cfg, run_dir)


def _capacity_sweep(cfg: Any, run_dir: Path) -> Any:
    from hopfield_cli.experiments.capacity_sweep import sweep as capacity_sweep

    return capacity_sweep.run(cfg, run_dir)


def _metastable_scan(cfg: Any, run_dir: Path) -> Any:
    from hopfield_cli.experiments.metastable_scan import scan as metastable_scan

    return metastable_scan.run(cfg, run_dir)


def _attention_heads(cfg: Any, run_dir: Path) -> Any:
    if cfg.attention is None:  # pretrained=minilm|FOLDER: run the model, classify its heads
        from hopfield_cli.experiments.attention_heads import pretrained as model_heads

        return model_heads.run(cfg, run_dir)
    from hopfield_cli.experiments.attention_heads import from_file as attention_heads

    return attention_heads.run(cfg, run_dir)


def _train(cfg: Any, run_dir: Path) -> Any:
    from hopfield_cli.experiments.train import run

    return run.run(cfg, run_dir)


def _reproduce(cfg: Any, run_dir: Path) -> Any:
    from hopfield_cli.app import reproduce

    return reproduce.run(cfg, run_dir)


@dataclass(frozen=True)
class Command:
    """One subcommand: ``hopfield <name>`` composes ``conf/<config_name>.yaml`` and calls ``run``."""

    name: str
    config_name: str
    run: Callable[[Any, Path], Any]
    summary: str
    examples: tuple[str, ...]
    resumable: bool = False  # keeps finished cells in cells.jsonl and takes resume=<folder>

    @property
    def schema(self) -> type:
        return COMMAND_SCHEMAS[self.config_name]


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
            resumable=True,
        ),
        Command(
            "attention-heads",
            "attention_heads",
            _attention_heads,
            "Classify attention heads into the paper's classes I-IV by k90 (Section 4).",
            ("hopfield attention-heads attention=bert_attentions.safetensors",),
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
            resumable=True,
        ),
    )
}
