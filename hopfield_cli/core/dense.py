"""Dense associative memory (Krotov & Hopfield 2016), a baseline of Ramsauer et al. (2021), Section 1.

Energy E(xi) = -sum_i F(x_i^T xi) with F(z) = z^n (or max(z, 0)^n, ``rectified``). Asynchronous binary update
of component j (Krotov and Hopfield 2016; Ramsauer et al. 2021, Section A.1.2):
    T_j(xi) = sgn(sum_i [F(x_ij + h_ij) - F(-x_ij + h_ij)]),   h_ij = sum_{l != j} x_il xi_l,
which sets xi_j to whichever sign gives the lower energy, so E never increases. Capacity ~ alpha_n d^(n-1).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch

from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.classical import overlap_sweep_result
from hopfield_cli.core.errors import CoreError

CHUNK_ELEMENTS = 1 << 20  # (B x chunk) temporaries of the field and energy stay under 8 MiB in float64
LOG_FLOAT64_LIMIT = math.log(torch.finfo(torch.float64).max / 16)  # ~706: N d^n must stay below e^this


def order_overflow(order: int, n_patterns: int, dim: int) -> str | None:
    """Why F(z) = z^n cannot be computed for N +-1 patterns of dimension d, or None when it can.

    |x_i^T xi| <= d, so every F value is at most d^n and the energy -sum_i F(x_i^T xi) at most N d^n in size;
    in float64 that needs n ln d + ln N below ~706 (the energy of a retrieved pattern alone is -d^n).
    """
    if dim <= 1 or order * math.log(dim) + math.log(max(n_patterns, 1)) <= LOG_FLOAT64_LIMIT:
        return None
    largest = int((LOG_FLOAT64_LIMIT - math.log(max(n_patterns, 1))) / math.log(dim))
    return (
        f"F(z) = z^{order} overflows float64 with d = {dim:,} and N = {n_patterns:,} (the energy reaches N d^n); "
        f"allowed here: n <= {largest}"
    )


def pattern_chunks(n_patterns: int, batch: int) -> Iterator[slice]:
    """Slices over the N patterns so that a (B, chunk) temporary stays under CHUNK_ELEMENTS."""
    size = max(1, CHUNK_ELEMENTS // max(1, batch))
    for start in range(0, n_patterns, size):
        yield slice(start, min(start + size, n_patterns))


@dataclass
class DenseAssociativeMemory:
    """Krotov-Hopfield dense associative memory with F(z) = z^n (``rectified``: max(z, 0)^n).

    Batched over queries; the overlaps s = X xi (B, N) are updated incrementally (``async_sweeps``), so
    h_ij = s_i - x_ij xi_j costs O(N) per component. One sweep in a random order (seeded by ``seed``) is one
    step; ``eps`` is unused (binary states). The computation runs in float64: the field is a difference of
    large powers and a sign decided by rounding could raise the energy. Results come back in the input dtype.
    An order whose powers overflow float64 (``order_overflow``) is refused: CoreError("n").
    """

    n: int = 3
    rectified: bool = False
    seed: int = 0
    name: ClassVar[str] = "dense"

    def __post_init__(self) -> None:
        if int(self.n) != self.n or self.n < 1:
            raise CoreError("n", f"the interaction order must be an integer >= 1; got {self.n}")
        self.n = int(self.n)

    def interaction(self, z: torch.Tensor) -> torch.Tensor:
        """F(z) = z^n, or max(z, 0)^n when rectified."""
        return (z.clamp(min=0) if self.rectified else z) ** self.n

    def _check_range(self, patterns: torch.Tensor) -> None:
        problem = order_overflow(self.n, patterns.shape[0], patterns.shape[1])
        if problem is not None:
            raise CoreError("n", problem)

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """E(xi) = -sum_i F(x_i^T xi)."""
        self._check_range(patterns)
        x, xi = patterns.double(), states.double()
        return self._energy(xi @ x.T).to(states.dtype)

    def _energy(self, overlaps: torch.Tensor) -> torch.Tensor:
        """-sum_i F(x_i^T xi) from the (B, N) overlaps, over pattern chunks (no (B, N) temporary)."""
        total = torch.zeros(overlaps.shape[0], dtype=overlaps.dtype, device=overlaps.device)
        for part in pattern_chunks(overlaps.shape[1], overlaps.shape[0]):
            total -= self.interaction(overlaps[:, part]).sum(1)
        return total

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float = 0.0,
    ) -> RetrievalResult:
        self._check_range(patterns)
        x, xi = patterns.double(), queries.double()
        chunks = list(pattern_chunks(x.shape[0], xi.shape[0]))

        def field(j: int, states: torch.Tensor, overlaps: torch.Tensor) -> torch.Tensor:
            score = torch.zeros(states.shape[0], dtype=states.dtype, device=states.device)
            scale = torch.zeros_like(score)
            for part in chunks:
                column = x[part, j]  # (n,)
                rest = overlaps[:, part] - states[:, j : j + 1] * column  # (B, n) h_ij
                plus, minus = self.interaction(rest + column), self.interaction(rest - column)
                score += (plus - minus).sum(1)
                scale += (plus.abs() + minus.abs()).sum(1)
            # With +-1 patterns every term is an integer, exact while scale < 2^53; below 2^50 the tolerance is
            # < 1, so only a true tie (or rounding noise once the terms are too large to be exact) reads as 0.
            return torch.where(score.abs() <= scale * 2.0**-50, 0.0, score)

        return overlap_sweep_result(
            x, xi, field, self._energy, seed=self.seed, update_steps_max=update_steps_max, dtype=queries.dtype
        )
