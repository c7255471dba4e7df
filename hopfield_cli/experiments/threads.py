"""CPU threads chosen per problem size, for every experiment that runs many small products.

A retrieval cell costs about N * d * B multiply-adds per product (Eq. 3: X^T xi, then X p). Below SMALL_WORK
they are tiny (B x d) @ (d x N) products where several OpenMP threads cost more in start-up and spinning than
in arithmetic: on a busy 2-core machine a 128 x 64 x 64 product went from 0.1 ms to 3 ms, and the default
capacity sweep took 26.8 s with 2 threads against 6-10 s with one. Large cells keep every thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

SMALL_WORK = 1 << 22  # N * d * B below this: one CPU thread


@contextmanager
def problem_threads(device: torch.device, work: int) -> Iterator[None]:
    """One CPU thread while ``work`` (N * d * B) is below SMALL_WORK, restored afterwards; else unchanged."""
    previous = torch.get_num_threads()
    if device.type == "cpu" and work < SMALL_WORK and previous > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
