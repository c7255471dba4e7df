"""`hopfield train`'s config groups: ``task=`` (what is learned) and ``layer=`` (what pools or associates).

Each option is a schema as in ``options.py``; a new task is one schema here, one generator in
``experiments/train/tasks.py`` and one ``conf/task/<name>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from hopfield_cli.config.fields import opt, option_name
from hopfield_cli.errors import Int, OneOf, Real

# --- task: the data set and its label ----------------------------------------------------------------------


@dataclass
class TaskOption:
    name: str = MISSING


@dataclass
class BitPatternTask(TaskOption):
    """Multiple-instance learning on bit patterns: a bag of random +-1 instances is positive when one of its
    instances is one of ``num_signals`` signal patterns (hflayers' BitPatternSet, the paper's Sec. 3 MIL)."""

    name: str = option_name("bit_pattern", "task")
    num_bags: int = opt(2048, "bags in the training split (balanced)", Int(4, 10**7))
    num_eval_bags: int = opt(512, "bags in the evaluation split", Int(2, 10**7))
    num_instances: int = opt(16, "instances per bag", Int(1, 100_000))
    num_bits: int = opt(16, "bits per instance pattern", Int(4, 4096))
    num_signals: int = opt(2, "distinct signal patterns (a positive bag holds one)", Int(1, 1024))


@dataclass
class LatchTask(TaskOption):
    """Latch: one-hot sequences whose label is their first symbol (0 or 1); the rest are random symbols of the
    same alphabet (Hochreiter & Schmidhuber 1997). An LSTM must carry one bit across the whole sequence."""

    name: str = option_name("latch", "task")
    num_sequences: int = opt(2048, "sequences in the training split (balanced)", Int(4, 10**7))
    num_eval_sequences: int = opt(512, "sequences in the evaluation split", Int(2, 10**7))
    seq_len: int = opt(128, "symbols per sequence", Int(2, 100_000))
    num_symbols: int = opt(8, "alphabet size (symbols 0 and 1 are the labels)", Int(2, 4096))


# --- layer: what turns the set or sequence into one vector --------------------------------------------------


@dataclass
class LayerOption:
    name: str = MISSING


@dataclass
class HopfieldSettings(LayerOption):
    """The settings every Hopfield layer option has (the arguments of ``nn.Hopfield`` a run may change)."""

    num_heads: int = opt(4, "heads", Int(1, 1024))
    hidden_size: int | None = opt(
        None, "per-head size of the Hopfield space; null = embedding / num_heads", Int(1, 10**6)
    )
    scaling: float | None = opt(None, "beta; null = 1/sqrt(hidden_size)", Real(0, open_lo=True))
    scaling_trainable: bool = opt(False, "learn log beta per head")
    update_steps_max: int = opt(
        0, "state updates before the final association (0 = one softmax, as hflayers)", Int(0, 1000)
    )
    dropout: float = opt(0.0, "dropout on the association", Real(0, 1, open_hi=True))


@dataclass
class HopfieldLayerOption(HopfieldSettings):
    """``Hopfield`` self-association over the elements (Eq. 10), then the last element's output for a
    sequence, the mean for a set."""

    name: str = option_name("hopfield", "layer")


@dataclass
class PoolingLayerOption(HopfieldSettings):
    """``HopfieldPooling``: ``quantity`` learned state patterns retrieve from the elements."""

    name: str = option_name("pooling", "layer")
    quantity: int = opt(1, "learned state patterns (queries)", Int(1, 4096))


@dataclass
class LookupLayerOption(HopfieldSettings):
    """``HopfieldLayer``: each element retrieves from ``quantity`` learned stored patterns; max over elements."""

    name: str = option_name("lookup", "layer")
    quantity: int = opt(16, "learned stored patterns", Int(1, 1_000_000))


@dataclass
class MeanLayerOption(LayerOption):
    """Baseline: the mean of the embedded elements."""

    name: str = option_name("mean", "layer")


@dataclass
class MaxLayerOption(LayerOption):
    """Baseline: the feature-wise maximum of the embedded elements."""

    name: str = option_name("max", "layer")


@dataclass
class AttentionLayerOption(LayerOption):
    """Baseline: attention-based MIL pooling (Ilse et al. 2018), optionally gated."""

    name: str = option_name("attention", "layer")
    attention_size: int = opt(32, "width of the attention network", Int(1, 100_000))
    gated: bool = opt(True, "gated attention (tanh * sigmoid)")


@dataclass
class LstmLayerOption(LayerOption):
    """Baseline: an LSTM over the elements; its last hidden state."""

    name: str = option_name("lstm", "layer")
    hidden_size: int = opt(64, "LSTM hidden units", Int(1, 100_000))
    num_layers: int = opt(1, "stacked LSTM layers", Int(1, 16))


TASKS: dict[str, type] = {"bit_pattern": BitPatternTask, "latch": LatchTask}
LAYERS: dict[str, type] = {
    "hopfield": HopfieldLayerOption,
    "pooling": PoolingLayerOption,
    "lookup": LookupLayerOption,
    "mean": MeanLayerOption,
    "max": MaxLayerOption,
    "attention": AttentionLayerOption,
    "lstm": LstmLayerOption,
}
HOPFIELD_LAYERS = ("hopfield", "pooling", "lookup")
OPTIMIZERS = OneOf(("adamw", "sgd"))
