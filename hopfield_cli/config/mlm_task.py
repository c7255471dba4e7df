"""`hopfield train task=mlm`: a small BERT-style masked-language model whose heads are watched while it learns.

The schema of ``task=mlm`` (``conf/task/mlm.yaml``); the trainer is ``experiments/train/mlm.py``. The run's
``lr``, ``weight_decay``, ``optimizer``, ``seed``, ``device`` and ``dtype`` are the train command's own
fields; ``epochs``, ``batch_size``, ``embedding`` and ``layer=`` do not apply (the model is the transformer
below, trained for ``task.steps`` steps of ``task.batch_size`` windows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hopfield_cli.config.fields import opt, option_name
from hopfield_cli.config.train_options import TaskOption
from hopfield_cli.errors import Int, Real, Text, UsageError


@dataclass
class MlmTask(TaskOption):
    """Masked-language modelling on characters of the pinned pydoc text (or a UTF-8 file): 4 post-LN BERT
    layers x 4 heads, width 64, windows of 128 characters, sinusoidal positions, 15% of positions masked
    (80% [MASK], 10% random, 10% kept). ``gaussian_layers`` turns those layers' heads into Gaussian
    averaging heads (2N parameters per head)."""

    name: str = option_name("mlm", "task")
    text: str = opt("pydoc", "pydoc (pinned Python help topics) | a UTF-8 text file", Text("pydoc or a file"))
    num_layers: int = opt(4, "transformer layers", Int(1, 48))
    num_heads: int = opt(4, "heads per layer", Int(1, 64))
    width: int = opt(64, "hidden size d (num_heads must divide it)", Int(2, 4096))
    seq_len: int = opt(128, "characters per window = N keys", Int(8, 4096))
    steps: int = opt(1200, "optimiser steps", Int(1, 10**7))
    batch_size: int = opt(
        16, "windows per step (the command's batch_size is for the epoch tasks)", Int(1, 10**6)
    )
    eval_every: int = opt(
        100, "measure the heads and the validation loss every this many steps", Int(1, 10**7)
    )
    eval_windows: int = opt(32, "windows of the fixed validation batch", Int(1, 100_000))
    mask_prob: float = opt(0.15, "fraction of positions to predict", Real(0, 1, open_lo=True, open_hi=True))
    gaussian_layers: list[int] = field(
        default_factory=list,
        metadata={
            "help": "layers (0-based) whose heads are Gaussian averaging heads, e.g. [0]",
            "check": None,
        },
    )

    def check_relations(self) -> None:
        if self.width % self.num_heads:
            raise UsageError("task.num_heads", f"must divide task.width ({self.width}), got {self.num_heads}")
        for i, layer in enumerate(self.gaussian_layers):
            if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < self.num_layers:
                raise UsageError(
                    f"task.gaussian_layers[{i}]",
                    f"must be a layer index >= 0 and < task.num_layers ({self.num_layers}), got {layer!r}",
                )
        if len(set(self.gaussian_layers)) != len(self.gaussian_layers):
            raise UsageError(
                "task.gaussian_layers", f"must not repeat a layer, got {list(self.gaussian_layers)}"
            )
