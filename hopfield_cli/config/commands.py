"""One schema per command; the config groups are typed by their option schemas (``options.py``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from omegaconf import MISSING

from hopfield_cli.config.fields import (
    MAX_DIM,
    MAX_PATTERNS,
    MAX_SEED,
    NORMALISE,
    opt,
)
from hopfield_cli.config.options import (
    FAMILIES,
    GROUPS,
    CorruptionOption,
    ModelOption,
    PatternsOption,
)
from hopfield_cli.config.run_options import RunOptions
from hopfield_cli.config.train_options import OPTIMIZERS, LayerOption, TaskOption
from hopfield_cli.errors import Device, Int, OneOf, Real, Size, Text, UsageError, parse_bytes

Families = dataclasses.make_dataclass(
    "Families",
    [
        (name, schema, opt(schema(), f"{name}: {(schema.__doc__ or '').strip().splitlines()[0]}"))
        for name, schema in GROUPS["model"].items()
    ],
)
Families.__doc__ = "capacity-sweep: each family's own settings, used for the families named in ``models``."


SEED = opt(0, "seed of patterns, queries and update orders", Int(0, MAX_SEED))
DEVICE = opt("auto", "auto picks CUDA when present", Device())
BUDGET = opt(None, "bytes for score blocks, e.g. 512MiB; null = auto", Size())


class MemoryBudget:
    """The ``memory_budget`` field of a schema as bytes: the one place its text (``512MiB``) is parsed."""

    memory_budget: str | None

    @property
    def budget_bytes(self) -> int | None:
        """Bytes for score blocks; None = chosen from the free memory (``core.budget``)."""
        return parse_bytes(self.memory_budget)


RESUME = opt(None, "a previous run folder of this command to continue", Text("a folder path"))
BINARISE = opt(False, "take sign() of the patterns (and, for binary families, of the queries)")


def _dtype(default: str = "float32") -> Any:
    return opt(
        default,
        "float32 | float64 (| bfloat16 | float16 on CUDA)",
        OneOf(("float32", "float64", "bfloat16", "float16")),
    )


def _steps(default: int) -> Any:
    return opt(default, "stop after this many updates", Int(0, 10**7))


def _eps(default: float) -> Any:
    return opt(default, "converged when ||xi_{t+1} - xi_t|| <= eps", Real(0, open_lo=True))


SUCCESS = opt(
    "nearest", "nearest | cosine | mse (README: success criteria)", OneOf(("nearest", "cosine", "mse"))
)
SUCCESS_TOL = opt(None, "null = 0.25 (nearest), 0.9 (cosine), 0.01 (mse)", Real(0, open_lo=True))


@dataclass
class StoreConfig(RunOptions):
    """`hopfield store`: build N patterns and save them as one safetensors memory."""

    patterns: PatternsOption = MISSING
    num_patterns: int = opt(1000, "N, number of generated patterns (files: all rows)", Int(1, MAX_PATTERNS))
    dim: int = opt(64, "d, dimension of generated patterns", Int(1, MAX_DIM))
    normalise: str = opt("none", "none | unit | center | standard", NORMALISE)
    binarise: bool = BINARISE
    beta: float = opt(8.0, "beta at which the summary counts well-separated patterns", Real(0, open_lo=True))
    out: str | None = opt(
        None, "memory file to write; null = <run dir>/memory.safetensors", Text("a file path")
    )
    seed: int = SEED
    device: str = DEVICE
    dtype: str = _dtype()


@dataclass
class RetrieveConfig(RunOptions, MemoryBudget):
    """`hopfield retrieve`: corrupt stored patterns, retrieve them, one row per query."""

    patterns: PatternsOption = MISSING
    model: ModelOption = MISSING
    corruption: CorruptionOption = MISSING
    memory: str | None = opt(
        None, "a memory file from `hopfield store`; null = make patterns", Text("a file path")
    )
    num_patterns: int = opt(1000, "N, number of generated patterns", Int(1, MAX_PATTERNS))
    dim: int = opt(64, "d, dimension of generated patterns", Int(1, MAX_DIM))
    normalise: str = opt("none", "none | unit | center | standard", NORMALISE)
    binarise: bool = BINARISE
    beta: float = opt(8.0, "inverse temperature (modern, exponential, sparse)", Real(0, open_lo=True))
    queries_file: str | None = opt(None, "read queries (B x d) from a file instead", Text("a file path"))
    targets_file: str | None = opt(None, "target ids of queries_file; null = nearest", Text("a file path"))
    num_queries: int | None = opt(None, "queries from stored patterns; null = min(N, 1000)", Int(1, 10**8))
    update_steps_max: int = _steps(100)
    eps: float = _eps(1e-5)
    memory_budget: str | None = BUDGET
    success: str = SUCCESS
    success_tol: float | None = SUCCESS_TOL
    grid_rows: int = opt(8, "image memories: rows of the query/retrieved/target PNG", Int(1, 64))
    seed: int = SEED
    device: str = DEVICE
    dtype: str = _dtype()

    def check_relations(self) -> None:
        if self.targets_file is not None and self.queries_file is None:
            raise UsageError("targets_file", "needs queries_file (targets of generated queries are known)")


@dataclass
class CapacitySweepConfig(RunOptions, MemoryBudget):
    """`hopfield capacity-sweep`: success rate vs N, capacity per (model, beta, d)."""

    patterns: PatternsOption = MISSING
    corruption: CorruptionOption = MISSING
    models: list[str] = opt(["modern", "classical"], "families side by side", OneOf(FAMILIES))
    families: Families = opt(Families(), "each family's settings, e.g. families.dense.n=4")
    beta: float = opt(8.0, "inverse temperature (used when betas is null)", Real(0, open_lo=True))
    betas: list[float] | None = opt(None, "several betas; null = [beta]", Real(0, open_lo=True))
    dim: int = opt(64, "d (used when dims is null)", Int(1, MAX_DIM))
    dims: list[int] | None = opt(
        None, "several dimensions, e.g. [16,32,64,128]; null = [dim]", Int(1, MAX_DIM)
    )
    memory: str | None = opt(
        None, "a memory file: N ranges over prefixes of its patterns", Text("a file path")
    )
    normalise: str = opt("none", "none | unit | center | standard", NORMALISE)
    binarise: bool = BINARISE
    trials: int = opt(5, "independent pattern sets per N", Int(1, 10_000))
    num_queries: int = opt(64, "queries per trial (distinct targets when N allows)", Int(1, 10**7))
    n_start: int = opt(4, "first N of the geometric growth", Int(1, MAX_PATTERNS))
    n_max: int | None = opt(
        None,
        "largest N tried; null = until the crossing: no limit for patterns drawn block by block (modern on "
        "generated patterns), 1,000,000 where they are held",
        Int(1, MAX_PATTERNS),
    )
    growth: float = opt(8.0, "factor between successive N while growing", Real(1, open_lo=True))
    refine_steps: int = opt(5, "bisection steps on the crossing", Int(0, 64))
    search: str = opt(
        "auto",
        "grow (x growth, then bisection) | crossing (secant on the predicted crossing) | ladder (growth "
        "steps, each one pass measuring every N 5% apart below it; modern on drawn patterns) | auto (ladder "
        "where n_max=null grows drawn patterns without limit, else grow)",
        OneOf(("auto", "grow", "crossing", "ladder")),
    )
    threshold: float = opt(
        0.9, "capacity = largest N with success rate >= threshold", Real(0, 1, open_lo=True)
    )
    shards: int = opt(
        1,
        "split each update pass of a modern cell over this many tasks (ranges of pattern blocks)",
        Int(1, 10_000),
    )
    shard_runner: str = opt(
        "local",
        "where the shards run: local processes | slurm (one job array a pass)",
        OneOf(("local", "slurm")),
    )
    shard_partition: str | None = opt(
        None, "sbatch --partition of the shard arrays; null = the default", Text("a partition")
    )
    update_steps_max: int = _steps(100)
    eps: float = _eps(1e-5)
    memory_budget: str | None = BUDGET
    success: str = SUCCESS
    success_tol: float | None = SUCCESS_TOL
    resume: str | None = RESUME
    plots: bool = opt(True, "write PNG figures")
    seed: int = SEED
    device: str = DEVICE
    dtype: str = _dtype()

    def check_relations(self) -> None:
        if self.n_max is not None and self.n_max < self.n_start:
            raise UsageError("n_max", f"must be >= n_start ({self.n_start}), got {self.n_max}")


@dataclass
class MetastableScanConfig(RunOptions, MemoryBudget):
    """`hopfield metastable-scan`: fixed-point kinds (global, metastable, single) across beta."""

    patterns: PatternsOption = MISSING
    corruption: CorruptionOption = MISSING
    num_patterns: int = opt(64, "N stored patterns", Int(1, MAX_PATTERNS))
    dim: int = opt(64, "d", Int(1, MAX_DIM))
    clusters: int = opt(0, "0 = plain patterns; k > 0 = k groups of similar patterns", Int(0, MAX_PATTERNS))
    cluster_spread: float = opt(
        0.1, "std of a member around its centre, relative to the centre's norm", Real(0)
    )
    memory: str | None = opt(None, "a memory file instead of generated patterns", Text("a file path"))
    normalise: str = opt("none", "none | unit | center | standard", NORMALISE)
    binarise: bool = BINARISE
    queries: str = opt(
        "corrupted", "corrupted stored patterns | random points", OneOf(("corrupted", "random"))
    )
    num_queries: int = opt(128, "queries per beta", Int(1, 10**7))
    beta_min: float | None = opt(
        None, "null = below the global condition beta m_max^2 < 1", Real(0, open_lo=True)
    )
    beta_max: float | None = opt(None, "null = above the well-separated condition", Real(0, open_lo=True))
    num_betas: int = opt(24, "log-spaced betas in [beta_min, beta_max]", Int(1, 10_000))
    update_steps_max: int = _steps(500)
    eps: float = _eps(1e-6)
    memory_budget: str | None = BUDGET
    resume: str | None = RESUME
    plots: bool = opt(True, "write PNG figures")
    seed: int = SEED
    device: str = DEVICE
    dtype: str = _dtype("float64")

    def check_relations(self) -> None:
        if self.memory is None and self.clusters > self.num_patterns:
            raise UsageError(
                "clusters", f"must be at most num_patterns ({self.num_patterns}), got {self.clusters}"
            )
        if self.beta_min is not None and self.beta_max is not None and self.beta_max <= self.beta_min:
            raise UsageError("beta_max", f"must be > beta_min ({self.beta_min}), got {self.beta_max}")


@dataclass
class AttentionHeadsConfig(RunOptions):
    """`hopfield attention-heads`: classify attention heads by k90 (Section 4, classes I-IV)."""

    attention: str | None = opt(
        None, "attention probabilities file (this or pretrained= is required)", Text("a file path")
    )
    # Not `model=`: Hydra reads model=... as a choice of the conf/model/ group (retrieve's families).
    pretrained: str | None = opt(
        None,
        "minilm (make install-models) | a Hugging Face BERT folder: run it on text=",
        Text("minilm or a folder"),
    )
    text: str = opt("pydoc", "pydoc (pinned Python help topics) | a UTF-8 text file", Text("pydoc or a file"))
    windows: int = opt(8, "windows of seq_len tokens read from the text (pretrained=)", Int(1, 100_000))
    seq_len: int = opt(512, "tokens per window = N keys (pretrained=)", Int(4, 100_000))
    plots: bool = opt(True, "write the layer x head class map (PNG)")
    seed: int = SEED
    device: str = DEVICE

    def check_relations(self) -> None:
        if self.attention is not None and self.pretrained is not None:
            raise UsageError("pretrained", "give attention=FILE or pretrained=..., not both")


@dataclass
class TrainConfig(RunOptions):
    """`hopfield train`: one training loop over a task (``task=``) and a layer (``layer=``), one row per epoch
    and split."""

    task: TaskOption = MISSING
    layer: LayerOption = MISSING
    epochs: int = opt(20, "passes over the training split", Int(1, 100_000))
    batch_size: int = opt(64, "examples per optimiser step", Int(1, 10**6))
    lr: float = opt(1e-3, "learning rate", Real(0, 10, open_lo=True))
    weight_decay: float = opt(0.0, "decoupled weight decay (AdamW)", Real(0, 10))
    optimizer: str = opt("adamw", "adamw | sgd", OPTIMIZERS)
    embedding: int = opt(32, "width of the element embedding the layer sees", Int(1, 100_000))
    resume: str | None = RESUME
    save_model: bool = opt(True, "write the trained model as model.safetensors")
    plots: bool = opt(True, "write the learning-curve figure")
    seed: int = SEED
    device: str = DEVICE
    dtype: str = opt("float32", "float32 | float64", OneOf(("float32", "float64")))

    def check_relations(self) -> None:
        heads = getattr(self.layer, "num_heads", None)
        if heads and getattr(self.layer, "hidden_size", None) is None and self.embedding % heads:
            raise UsageError(
                "layer.num_heads", f"must divide embedding ({self.embedding}) unless layer.hidden_size is set"
            )


CLAIM_IDS = (
    "eq3_attention",
    "energy_descent",
    "one_step_retrieval",
    "theorem3_values",
    "theorem3_vs_measured",
    "capacity_exponential",
    "capacity_classical_linear",
    "modern_above_classical",
    "fixed_point_global",
    "fixed_point_metastable",
    "fixed_point_single",
    "head_classes",
    "blog_images",
    "latch_hopfield_solves",
    "bit_pattern_pooling_beats_mean",
    "capacity_frontier",
    "mil_elephant",
    "mil_ucsb",
    "repertoire_low_witness",
    "bert_first_layer_averages",
    "heads_start_global",
    "heads_become_metastable",
    "gaussian_heads_suffice",
    "gradient_regimes",
)


@dataclass
class ReproduceConfig(RunOptions):
    """`hopfield reproduce`: the paper's testable claims, each measured, with a verdict in report.md."""

    profile: str = opt(
        "quick",
        "quick (minutes on 2 cores, CI) | full (hours: MIL cross-validation, the frontier, mlm): sizes of the runs",
        OneOf(("quick", "full")),
    )
    claims: list[str] | None = opt(
        None, "claim ids to run, e.g. [eq3_attention]; null = all", OneOf(CLAIM_IDS)
    )
    attention: str | None = opt(
        None, "an attention probabilities file to classify beside the report's own", Text("a file path")
    )
    html: bool = opt(True, "also write report.html (markdown-it-py)")
    resume: str | None = RESUME
    seed: int = SEED
    device: str = DEVICE


COMMAND_SCHEMAS: dict[str, type] = {
    "store": StoreConfig,
    "retrieve": RetrieveConfig,
    "capacity_sweep": CapacitySweepConfig,
    "metastable_scan": MetastableScanConfig,
    "attention_heads": AttentionHeadsConfig,
    "reproduce": ReproduceConfig,
    "train": TrainConfig,
}
