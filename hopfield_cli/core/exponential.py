"""Exponential interaction memory (Demircigil et al. 2017), the binary ancestor of Ramsauer et al. (2021).

F(z) = exp(beta z) in the dense-memory update (``dense.py``):
    T_j(xi) = sgn(sum_i exp(beta (x_ij + h_ij)) - sum_i exp(beta (-x_ij + h_ij))).
Both sums can overflow (beta d > ~709 in float64), so the sign is taken in LOG space: T_j = sgn(lse_+ - lse_-)
with lse_+- = logsumexp_i(beta (+-x_ij + h_ij)); log is increasing, so the sign is the same. Each lse is kept as
beta m + log sum_i exp(beta (v_i - m)) with m the largest exponent, so beta m is never formed inside an exp and
no beta a float can hold overflows (at beta = 1e308, beta d is inf). A difference within rounding of zero counts
as a tie and keeps the bit (``_tie_to_zero``).

The reported energy is -(1/beta) log sum_i exp(beta x_i^T xi) = -lse(beta, X^T xi), the first term of the
modern energy (Eq. 2). The true energy -sum_i exp(beta x_i^T xi) = -exp(-beta E_reported) is a strictly
increasing function of it, so both order states the same way and "the energy never increases" holds for
both; the reported one never overflows. Capacity: up to 2^(d/2) patterns at zero noise; at Hamming radius
rho d, exp(alpha d) patterns are recovered when alpha < I(1 - 2 rho)/2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.classical import overlap_sweep_result
from hopfield_cli.core.dense import pattern_chunks
from hopfield_cli.core.errors import CoreError

MIN_BETA = 1e-300  # below it -log(N) / beta, the energy's size, overflows float64 (N up to 1e9: log N < 21)
LEAD_CAP = 1e300  # |beta (top_+ - top_-)| beyond this is decided by its sign alone (the log-sums are < log N)


@dataclass
class ExponentialMemory:
    """Demircigil et al. exponential memory, F(z) = exp(beta z), asynchronous binary update in log space.

    One sweep in a random order (seeded by ``seed``) is one step; ``eps`` is unused (binary states).
    The computation runs in float64; results come back in the input dtype.
    """

    beta: float = 1.0
    seed: int = 0
    name: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.beta < float("inf")):
            raise CoreError("beta", f"beta must be > 0 and finite; got {self.beta}")
        if self.beta < MIN_BETA:
            raise CoreError(
                "beta",
                f"model exponential needs beta >= {MIN_BETA:g}: its energy -(1/beta) log sum_i exp(beta x_i^T xi) "
                f"~ -log(N) / beta must fit float64; got {self.beta:g}",
            )

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """-(1/beta) log sum_i exp(beta x_i^T xi): same ordering as -sum_i exp(beta x_i^T xi), no overflow."""
        x, xi = patterns.double(), states.double()
        return self._energy(xi @ x.T).to(states.dtype)

    def _energy(self, overlaps: torch.Tensor) -> torch.Tensor:
        """-lse(beta, X^T xi) from the (B, N) overlaps, over pattern chunks (no (B, N) temporary)."""
        beta = float(self.beta)
        parts = [_shifted_lse(overlaps[:, part], beta) for part in pattern_chunks(*overlaps.shape[::-1])]
        top, rest = _merge(parts, beta)
        return -(top + rest / beta)

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float = 0.0,
    ) -> RetrievalResult:
        x, xi = patterns.double(), queries.double()
        chunks = list(pattern_chunks(x.shape[0], xi.shape[0]))
        beta = float(self.beta)
        # two (B, chunk) work buffers for the whole run: the d sweeps allocate nothing of that size, so the
        # allocator has nothing to fragment (fresh temporaries per chunk made the peak memory vary 2x by run)
        size = xi.shape[0] * max((p.stop - p.start for p in chunks), default=0)
        buffers = torch.empty(2, size, dtype=x.dtype, device=x.device)

        def field(j: int, states: torch.Tensor, overlaps: torch.Tensor) -> torch.Tensor:
            plus, minus = [], []
            for part in chunks:
                column = x[part, j]  # (n,)
                shape = (states.shape[0], column.shape[0])
                rest = buffers[0, : shape[0] * shape[1]].view(shape)
                work = buffers[1, : shape[0] * shape[1]].view(shape)
                torch.addr(overlaps[:, part], states[:, j], column, alpha=-1, out=rest)  # (B, n) h_ij
                plus.append(_shifted_lse_(torch.add(rest, column, out=work), beta))
                minus.append(_shifted_lse_(torch.sub(rest, column, out=work), beta))
            top_plus, lse_plus = _merge(plus, beta)  # (B,) max and beta^-1-free log-sum of the rest
            top_minus, lse_minus = _merge(minus, beta)
            # lse_+ - lse_- = beta (top_+ - top_-) + (lse_plus - lse_minus); the tops are sums of +-1 entries
            # (exact), so beta times their difference is the only large term: capped, it keeps its sign
            lead = (beta * (top_plus - top_minus)).clamp(-LEAD_CAP, LEAD_CAP)
            return _tie_to_zero(lead + (lse_plus - lse_minus), lead.abs() + lse_plus + lse_minus + x.shape[0])

        return overlap_sweep_result(
            x, xi, field, self._energy, seed=self.seed, update_steps_max=update_steps_max, dtype=queries.dtype
        )


def _shifted_lse(values: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Row max m and log sum_i exp(beta (v_i - m)): logsumexp(beta v) = beta m + that, never formed.

    beta (v_i - m) <= 0, so it can only underflow to -inf (a weight of 0), never overflow, for any finite beta.
    """
    top = values.amax(dim=1)
    return top, torch.logsumexp(beta * (values - top[:, None]), dim=1)


def _shifted_lse_(values: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``_shifted_lse`` computed in ``values``' own memory (overwritten): log sum_i exp(beta (v_i - m))."""
    top = values.amax(dim=1)
    return top, values.sub_(top[:, None]).mul_(beta).exp_().sum(dim=1).log_()


def _merge(parts: list[tuple[torch.Tensor, torch.Tensor]], beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``_shifted_lse`` of pattern chunks combined into one row max and log-sum over all N."""
    tops = torch.stack([top for top, _ in parts], 1)  # (B, chunks)
    top = tops.amax(dim=1)
    rests = torch.stack([rest for _, rest in parts], 1)
    return top, torch.logsumexp(beta * (tops - top[:, None]) + rests, dim=1)


def _tie_to_zero(score: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Zero a score within rounding of 0 (``scale`` bounds the sizes it was computed from).

    Ties are common here: the exponents are beta times integers, and the two sets are often the same multiset
    in another order, whose logsumexps differ by an ulp. A tie keeps the current bit, which never raises E;
    a flip decided by rounding could.
    """
    return torch.where(score.abs() <= 4 * torch.finfo(score.dtype).eps * scale, 0.0, score)
