"""The tasks of `hopfield train`: seeded generators written from the papers' descriptions.

Each returns a ``TaskData``: a training and an evaluation ``Split`` of elements (n, T, F) with an optional
padding mask (n, T) (True = padding, the layers' convention) and binary labels (n,), and whether the elements
are ordered (a sequence: the layer reads it in order) or a set (a bag: any order).

- ``bit_pattern`` (multiple-instance learning, Sec. 3 of Ramsauer et al. and hflayers' BitPatternSet): each bag
  holds ``num_instances`` random +-1 bit patterns; a positive bag has one instance replaced by one of
  ``num_signals`` signal patterns; no negative bag holds a signal pattern.
- ``latch`` (Hochreiter & Schmidhuber 1997): one-hot sequences of ``seq_len`` symbols whose label is the first
  symbol (0 or 1); every later symbol is uniform over the whole alphabet, so the label must be kept from the
  first step to the last.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Split:
    x: torch.Tensor  # (n, T, F) float32
    y: torch.Tensor  # (n,) float32 in {0, 1}
    mask: torch.Tensor | None = None  # (n, T) bool, True = padding

    def __len__(self) -> int:
        return int(self.y.shape[0])


@dataclass
class TaskData:
    train: Split
    eval: Split
    ordered: bool  # a sequence (True) or a set (False)

    @property
    def features(self) -> int:
        return int(self.train.x.shape[-1])


def balanced_labels(n: int, generator: torch.Generator) -> torch.Tensor:
    """n labels, half of them 1 (the extra one of an odd n is 0), in random order."""
    labels = (torch.arange(n) < n // 2).float()
    return labels[torch.randperm(n, generator=generator)]


def _signs(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randint(0, 2, shape, generator=generator).float() * 2 - 1


def bit_pattern_split(task, n: int, signals: torch.Tensor, generator: torch.Generator) -> Split:
    """n bags (n, num_instances, num_bits) of +-1 bits; label 1 = one instance is a signal pattern."""
    y = balanced_labels(n, generator)
    x = _signs(generator, n, task.num_instances, task.num_bits)
    # No random instance may equal a signal pattern (the label would lie): redraw those (rare beyond 12 bits).
    while True:
        hits = (x[:, :, None, :] == signals[None, None]).all(-1).any(-1)  # (n, I)
        if not bool(hits.any()):
            break
        x[hits] = _signs(generator, int(hits.sum()), task.num_bits)
    positive = y.nonzero().flatten()
    slot = torch.randint(0, task.num_instances, (len(positive),), generator=generator)
    which = torch.randint(0, signals.shape[0], (len(positive),), generator=generator)
    x[positive, slot] = signals[which]
    return Split(x, y)


def bit_pattern(task, seed: int) -> TaskData:
    generator = torch.Generator().manual_seed(seed)
    signals = _signs(generator, task.num_signals, task.num_bits)
    train = bit_pattern_split(task, task.num_bags, signals, generator)
    evaluation = bit_pattern_split(task, task.num_eval_bags, signals, generator)
    return TaskData(train, evaluation, ordered=False)


def latch_split(task, n: int, generator: torch.Generator) -> Split:
    """n one-hot sequences (n, seq_len, num_symbols); the first symbol is the label."""
    y = balanced_labels(n, generator)
    symbols = torch.randint(0, task.num_symbols, (n, task.seq_len), generator=generator)
    symbols[:, 0] = y.long()
    return Split(torch.nn.functional.one_hot(symbols, task.num_symbols).float(), y)


def latch(task, seed: int) -> TaskData:
    generator = torch.Generator().manual_seed(seed)
    train = latch_split(task, task.num_sequences, generator)
    evaluation = latch_split(task, task.num_eval_sequences, generator)
    return TaskData(train, evaluation, ordered=True)


GENERATORS = {"bit_pattern": bit_pattern, "latch": latch}


def make_task(task, seed: int) -> TaskData:
    """The data of ``task`` (a typed ``task=`` option) drawn from ``seed``."""
    return GENERATORS[task.name](task, seed)
