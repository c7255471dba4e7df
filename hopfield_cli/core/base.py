"""The one interface every model family implements, and the result it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch


@dataclass
class RetrievalResult:
    """What a model returns for a batch of B queries.

    Attributes:
        states: (B, d) final states xi* (on the device and in the dtype of the computation).
        steps: (B,) int64, number of updates applied to each query before it converged
            (||xi_{t+1} - xi_t|| <= eps) or hit ``update_steps_max``.
        energies: (B, T + 1) energy of each query before the first update (column 0) and after each
            update; once a query has converged its last value is repeated to the right.
        converged: (B,) bool, whether the query met the convergence test within ``update_steps_max``.
        max_weight: (B,) largest weight of the final state's separation (for ``modern``: the largest
            softmax probability p_i of p = softmax(beta X^T xi*)); None where a family has no weights.
        k90: (B,) int64, the smallest number of largest weights whose sum reaches 0.9 of the mass
            (the paper's k, Section 4); None where a family has no weights.
        k90_cap: None when k90 is exact; otherwise k90 is exact only up to this value and queries
            whose k90 exceeds it report the cap.
    """

    states: torch.Tensor
    steps: torch.Tensor
    energies: torch.Tensor
    converged: torch.Tensor
    max_weight: torch.Tensor | None = None
    k90: torch.Tensor | None = None
    k90_cap: int | None = None


@runtime_checkable
class HopfieldModel(Protocol):
    """A model family: stores nothing itself; retrieves queries against the given patterns."""

    name: str

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float,
    ) -> RetrievalResult: ...

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Energy of each state, shape (B,)."""
        ...
