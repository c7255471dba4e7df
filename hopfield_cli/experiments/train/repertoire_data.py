"""Seeded immune repertoires for ``task=repertoire`` (the setting of DeepRC, Widrich et al. 2020).

A sequence is CDR3-like: the conserved anchors C A S at its start and Q Y F at its end around a core of 6 to
10 residues drawn uniformly from the 20 amino acids (12 to 16 residues, 14 on average). In a positive
repertoire a share ``witness_rate`` of the sequences (rounded, at least one) carries the motif of
``motif_length`` residues at a random place of its core; each implanted residue is replaced by another
amino acid with probability ``noise``. Negative repertoires hold no implant (a random core matches the motif
by chance only). Sequences are int8 codes (n, 16) with PAD beyond their length.

Repertoire r is drawn from its own generator (seed, r), so one of them can be drawn again at any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
PAD = len(AMINO_ACIDS)  # code of a position beyond a sequence's end
START, END = "CAS", "QYF"  # conserved anchors (Cys104 ... Phe118 of the IMGT CDR3)
CORE = (6, 10)  # core lengths, inclusive
MAX_LENGTH = len(START) + CORE[1] + len(END)


def codes_of(text: str) -> torch.Tensor:
    return torch.tensor([AMINO_ACIDS.index(c) for c in text], dtype=torch.int8)


@dataclass
class Repertoire:
    codes: torch.Tensor  # (n, MAX_LENGTH) int8, PAD beyond the length
    lengths: torch.Tensor  # (n,) int64
    implanted: torch.Tensor  # (n,) bool: carries the (noisy) motif


def motif_of(task, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed * 7_919 + 1)
    return torch.randint(0, len(AMINO_ACIDS), (task.motif_length,), generator=generator).to(torch.int8)


def draw_repertoire(task, motif: torch.Tensor, positive: bool, n: int, seed: int) -> Repertoire:
    """n sequences; when ``positive``, round(witness_rate n) (>= 1) of them carry the noisy motif."""
    generator = torch.Generator().manual_seed(seed)
    core = torch.randint(CORE[0], CORE[1] + 1, (n,), generator=generator)
    lengths = core + len(START) + len(END)
    codes = torch.randint(0, len(AMINO_ACIDS), (n, MAX_LENGTH), generator=generator).to(torch.int8)
    codes[:, : len(START)] = codes_of(START)
    positions = torch.arange(MAX_LENGTH)
    for k, code in enumerate(codes_of(END)):
        codes[torch.arange(n), lengths - len(END) + k] = code
    codes[positions[None, :] >= lengths[:, None]] = PAD
    implanted = torch.zeros(n, dtype=torch.bool)
    if positive:
        count = max(1, round(task.witness_rate * n))
        rows = torch.randperm(n, generator=generator)[:count]
        m = len(motif)
        start = len(START) + (torch.rand(count, generator=generator) * (core[rows] - m + 1)).long()
        noisy = motif.expand(count, m).clone()
        hit = torch.rand(count, m, generator=generator) < task.noise
        shift = torch.randint(1, len(AMINO_ACIDS), (count, m), generator=generator).to(torch.int8)
        noisy[hit] = ((noisy.long() + shift.long()) % len(AMINO_ACIDS)).to(torch.int8)[hit]  # another residue
        columns = start[:, None] + torch.arange(m)[None, :]
        codes[rows[:, None], columns] = noisy
        implanted[rows] = True
    return Repertoire(codes, lengths, implanted)


def repertoire_seed(seed: int, index: int) -> int:
    return (seed * 1_000_003 + index * 7_919 + 17) % (2**63 - 1)


def oracle_count(codes: torch.Tensor, lengths: torch.Tensor, motif: torch.Tensor, block: int = 65_536) -> int:
    """Sequences holding a window within Hamming distance 1 of the motif (the known-motif baseline)."""
    m = len(motif)
    found = 0
    for start in range(0, codes.shape[0], block):
        c, n = codes[start : start + block], lengths[start : start + block]
        hit = torch.zeros(c.shape[0], dtype=torch.bool)
        for offset in range(MAX_LENGTH - m + 1):
            mismatches = (c[:, offset : offset + m] != motif[None, :]).sum(dim=1)
            hit |= (mismatches <= 1) & (offset + m <= n)
        found += int(hit.sum())
    return found
