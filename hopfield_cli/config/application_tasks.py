"""`hopfield train`'s application tasks (Section 5 of Ramsauer et al. 2021): ``task=mil`` and ``task=repertoire``.

- ``mil``: the multiple-instance benchmarks of Table 1 (Elephant, UCSB breast cancer, Musk1, Musk2 from the
  ``mil`` package, or a user's bag file), under the paper's protocol: stratified 10-fold cross-validation
  repeated 5 times, an inner hyper-parameter search, AUC per fold.
- ``repertoire``: seeded immune repertoires (DeepRC's setting): a positive repertoire holds a motif in a
  fraction ``witness_rate`` of its sequences; a DeepRC-like model pools every sequence with Hopfield pooling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hopfield_cli.config.fields import opt, option_name
from hopfield_cli.config.train_options import TaskOption
from hopfield_cli.errors import Int, OneOf, Real, Text, UsageError

MIL_SHIPPED = ("elephant", "ucsb", "musk1", "musk2")
MIL_NOT_OFFLINE = ("tiger", "fox")
MIL_METHODS = ("hopfield", "mean", "max", "attention", "shuffle")


@dataclass(frozen=True)
class MilDataset:
    """A dataset name: one the ``mil`` package ships, or ``file``; Tiger and Fox are named as not offline."""

    def describe(self) -> str:
        return " | ".join((*MIL_SHIPPED, "file"))

    def __call__(self, value: Any, field: str) -> None:
        if value in MIL_NOT_OFFLINE:
            raise UsageError(
                field,
                f"{value} (Andrews et al. 2003) is not shipped offline by the mil package; if you have it, "
                f"give it as task.dataset=file task.path=<bags.csv> (label, bag id, features per line)",
            )
        if value not in (*MIL_SHIPPED, "file"):
            raise UsageError(field, f"must be one of {', '.join((*MIL_SHIPPED, 'file'))}; got {value!r}")


@dataclass
class MilTask(TaskOption):
    """Multiple-instance learning on the benchmarks of Table 1: bags of feature vectors, a bag label. Stratified
    ``folds``-fold cross-validation repeated ``repeats`` times; each outer fold searches the grid on an inner
    split of its training bags (``profile=full``), then trains on all of them and scores the held-out fold."""

    name: str = option_name("mil", "task")
    dataset: str = opt("elephant", "elephant | ucsb | musk1 | musk2 (the mil package) | file", MilDataset())
    path: str | None = opt(None, "bag file for dataset=file: label, bag id, features per line", Text())
    profile: str = opt(
        "full",
        "quick: 1 repeat, one configuration | full: repeats x folds, inner search",
        OneOf(("quick", "full")),
    )
    folds: int = opt(10, "outer cross-validation folds (stratified)", Int(2, 100))
    repeats: int = opt(5, "repetitions of the cross-validation (profile=quick: 1)", Int(1, 100))
    bag_dropout: float = opt(
        0.0, "probability of dropping an instance of a training bag", Real(0, 1, open_hi=True)
    )
    methods: list[str] = opt(
        list(MIL_METHODS),
        "hopfield (layer=) | mean | max | attention (baselines) | shuffle (layer= on shuffled labels)",
        OneOf(MIL_METHODS),
    )
    grid_lr: list[float] = opt(
        [1e-3, 1e-4], "learning rates searched (profile=full)", Real(0, 10, open_lo=True)
    )
    grid_embedding: list[int] = opt([32, 64], "embedding widths searched", Int(1, 100_000))
    grid_heads: list[int] = opt([4, 8], "Hopfield heads searched", Int(1, 1024))
    grid_beta: list[float] = opt([0.1, 1.0], "beta searched (scaling)", Real(0, open_lo=True))
    grid_bag_dropout: list[float] = opt([0.0, 0.5], "bag dropout searched", Real(0, 1, open_hi=True))
    search_configs: int = opt(4, "grid points tried per fold (a seeded sample of the grid)", Int(1, 10_000))
    inner_fraction: float = opt(
        0.25, "share of a fold's training bags the search scores on", Real(0, 1, True, True)
    )
    inner_folds: int = opt(
        1,
        "1: the search scores each point on one stratified split (inner_fraction) | k >= 2: by the mean AUC of "
        "a stratified k-fold cross-validation of the fold's training bags",
        Int(1, 100),
    )

    def check_relations(self) -> None:
        if self.dataset == "file" and self.path is None:
            raise UsageError(
                "task.path", "is required for task.dataset=file: a CSV of label, bag id, features"
            )
        if self.dataset != "file" and self.path is not None:
            raise UsageError("task.path", f"is only read with task.dataset=file (dataset is {self.dataset})")


@dataclass
class RepertoireTask(TaskOption):
    """Immune repertoire classification (DeepRC, Widrich et al. 2020) on seeded simulated repertoires:
    CDR3-like sequences between conserved anchors; a positive repertoire carries a motif (with substitution
    noise) in a fraction ``witness_rate`` of its sequences."""

    name: str = option_name("repertoire", "task")
    num_repertoires: int = opt(
        200, "repertoires (half positive); a quarter held out for evaluation", Int(8, 10**6)
    )
    sequences: int = opt(10_000, "sequences per repertoire", Int(10, 10**8))
    witness_rate: float = opt(
        0.01, "share of a positive repertoire's sequences carrying the motif", Real(0, 1, True)
    )
    motif_length: int = opt(4, "residues of the implanted motif", Int(2, 10))
    noise: float = opt(
        0.1, "per-residue substitution probability of an implanted motif", Real(0, 1, open_hi=True)
    )
    train_sequences: int = opt(1024, "sequences sub-sampled per repertoire per training step", Int(1, 10**7))
    block_sequences: int = opt(8192, "sequences per evaluation block (streamed pooling)", Int(1, 10**7))
    kernel_size: int = opt(5, "width of the 1-D convolution over residues", Int(1, 15))
    largest_repertoire: int = opt(
        300_000, "sequences of one extra repertoire timed at evaluation (0 = none)", Int(0, 10**8)
    )
    shuffle: bool = opt(True, "also train on shuffled labels (the control)")

    def check_relations(self) -> None:
        if self.witness_rate * self.sequences < 1:
            raise UsageError(
                "task.witness_rate",
                f"must leave at least one witness per positive repertoire: witness_rate x sequences = "
                f"{self.witness_rate * self.sequences:g} < 1; raise task.sequences",
            )


APPLICATION_TASKS: dict[str, type] = {"mil": MilTask, "repertoire": RepertoireTask}
