"""The data of `hopfield train task=mlm`: characters of the pinned text, windows of N, BERT's masking.

Tokens are characters (no tokenizer package needed): id 0 is [MASK], then every character of the text in
code-point order. The first 90% of the text is for training, the last 10% for validation. A training batch
at step s is drawn from a generator seeded by (seed, s): random window starts, then BERT's masking (Devlin et
al. 2019): each position is chosen with probability ``mask_prob``; a chosen position becomes [MASK] with
probability 0.8, a random character with 0.1, and stays with 0.1; the loss is read at chosen positions only.
The validation batch is fixed: ``eval_windows`` windows evenly spaced over the validation text, masked once
from the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MASK_ID = 0
IGNORE = -100  # label of a position that is not predicted (cross_entropy's ignore_index)
TRAIN_FRACTION = 0.9


@dataclass
class Corpus:
    train: torch.Tensor  # (n_train,) int64 character ids
    valid: torch.Tensor  # (n_valid,)
    vocab: list[str]  # id -> character; vocab[0] = "[MASK]"

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)


def make_corpus(text: str, seq_len: int) -> Corpus:
    """Character ids of ``text``, split 90/10 (each part must hold at least one window)."""
    chars = sorted(set(text))
    index = {c: i + 1 for i, c in enumerate(chars)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.int64)
    cut = int(len(ids) * TRAIN_FRACTION)
    if cut < seq_len or len(ids) - cut < seq_len:
        from hopfield_cli.errors import UsageError

        raise UsageError(
            "task.text", f"has {len(ids):,} characters; at least {seq_len / (1 - TRAIN_FRACTION):,.0f} needed"
        )
    return Corpus(ids[:cut], ids[cut:], ["[MASK]", *chars])


def step_seed(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step * 7_919 + 17) % (2**63 - 1)


def mask_tokens(
    windows: torch.Tensor, mask_prob: float, vocab_size: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels), both (B, T): BERT's 80/10/10 masking; labels are IGNORE where nothing is predicted.
    At least one position per batch is predicted."""
    chosen = torch.rand(windows.shape, generator=generator) < mask_prob
    if not chosen.any():
        chosen.view(-1)[torch.randint(0, chosen.numel(), (1,), generator=generator)] = True
    labels = torch.where(chosen, windows, torch.full_like(windows, IGNORE))
    roll = torch.rand(windows.shape, generator=generator)
    randoms = torch.randint(1, vocab_size, windows.shape, generator=generator)
    inputs = windows.clone()
    inputs[chosen & (roll < 0.8)] = MASK_ID
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = randoms[swap]
    return inputs, labels


def train_batch(corpus: Corpus, batch_size: int, seq_len: int, mask_prob: float, seed: int, step: int):
    """The masked batch of training step ``step`` (a function of (seed, step) only, so a resumed run draws it
    again)."""
    generator = torch.Generator().manual_seed(step_seed(seed, step))
    starts = torch.randint(0, len(corpus.train) - seq_len + 1, (batch_size,), generator=generator)
    windows = corpus.train[starts[:, None] + torch.arange(seq_len)]
    return mask_tokens(windows, mask_prob, corpus.vocab_size, generator)


def valid_batch(corpus: Corpus, windows: int, seq_len: int, mask_prob: float, seed: int):
    """The fixed validation batch: ``windows`` evenly spaced windows of the validation text, masked once."""
    last = len(corpus.valid) - seq_len
    starts = torch.linspace(0, last, windows).round().long()
    block = corpus.valid[starts[:, None] + torch.arange(seq_len)]
    return mask_tokens(
        block, mask_prob, corpus.vocab_size, torch.Generator().manual_seed(step_seed(seed, -1))
    )
