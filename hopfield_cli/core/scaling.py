"""Keep the softmax families (modern, sparse) finite for every norm and beta a float can hold.

Eqs. 2 and 3 of Ramsauer et al. (2021) are invariant under a change of units: with X = s X', xi = s xi' and
beta' = beta s^2 the scores are the same (beta X^T xi = beta' X'^T xi'), the update is xi_new = s (X' p) and the
energy is E = s^2 E'(xi'; X', beta'); the sparse energy (``sparse.py``) scales the same way. A run whose scores,
norms or weighted sums would overflow its dtype, or whose scores would underflow, is therefore computed in units
where max(M, Q) lies in [1/2, 1) (M = max_i ||x_i||, Q = the largest query norm), with s a power of two:
multiplying by it is exact (but for entries that fall below the smallest normal float), so nothing is lost but
the overflow; a run that does not need it is computed as given, bit for bit.

beta is capped so that beta M Q and beta Q stay ``MARGIN`` below the largest float (an infinite score would give
exp(inf - inf) = NaN, an infinite beta times a zero entry NaN). The cap changes nothing a float can show: it
still gives every score gap above 1e-30 max(M Q, Q, 1) the weight exp(-2e7) = 0, as the uncapped beta does,
and the scores themselves are rounded far more coarsely (about 1e-7 M Q in float32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hopfield_cli.core.errors import CoreError

MARGIN = 16.0  # bounds stay this far below the dtype's largest value (differences and short sums of terms)
MAX_SHIFT = 510  # 4^510 ~ 1e307: beyond it the energy (~ M^2) does not fit float64


def times_pow2(values: torch.Tensor, exponent: int) -> torch.Tensor:
    """values * 2^exponent, exact (steps of at most 2^100, so every factor is a normal float32)."""
    out = values
    while exponent != 0:
        step = max(-100, min(100, exponent))
        out = out * math.ldexp(1.0, step)
        exponent -= step
    return out


@dataclass(frozen=True)
class Scaling:
    """Units of one computation: patterns and states times 2^-shift, and the beta used in those units."""

    shift: int  # 0: computed in the caller's units
    beta: float  # beta in the computation's units (beta * 4^shift, capped)

    def down(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` in the computation's units (a copy unless shift is 0). A pattern source that draws its rows
        when read (not a tensor) is read whole for that copy: only norms far beyond float32's squares need it."""
        if self.shift == 0:
            return values
        if not isinstance(values, torch.Tensor):
            values = values[: len(values)]
        return times_pow2(values, -self.shift)

    def up(self, values: torch.Tensor) -> torch.Tensor:
        """States back in the caller's units."""
        return values if self.shift == 0 else times_pow2(values, self.shift)

    def squared_up(self, energies: torch.Tensor) -> torch.Tensor:
        """Quadratic quantities (energies, separations) back in the caller's units, E = 4^shift E', in float64
        (E ~ M^2 may not fit float32)."""
        return energies if self.shift == 0 else times_pow2(energies.double(), 2 * self.shift)

    def length(self, value: float) -> float:
        """A length (eps, a norm) in the computation's units."""
        return math.ldexp(value, -self.shift)


def plan_scaling(
    norm_max: float,
    query_norm_max: float,
    n_patterns: int,
    beta: float,
    *,
    dtype: torch.dtype,
    acc: torch.dtype,
) -> Scaling:
    """The units in which a pass over ``dtype`` products and ``acc`` sums neither overflows nor underflows.

    The norms are used as given when M Q and N M stay ``MARGIN`` below the product dtype's largest value, M^2
    and Q^2 (the energy) below the accumulation dtype's, and max(M, Q)^2 far above its smallest normal value
    (scores of tiny patterns would underflow to 0). Otherwise the shift makes max(M, Q) lie in [1/2, 1). In
    either units beta is capped at ``MARGIN`` below the largest float over max(M Q, Q, 1) (module docstring).
    CoreError("patterns") for norms beyond 1e154, whose energy (~ M^2) does not fit float64.
    """
    big_m, big_q, beta = float(norm_max), float(query_norm_max), float(beta)
    if not (math.isfinite(big_m) and math.isfinite(big_q)):
        raise CoreError("patterns", "pattern and query norms must be finite")
    limit_dt = float(torch.finfo(dtype).max) / MARGIN
    limit_acc = float(torch.finfo(acc).max) / MARGIN
    smallest = float(torch.finfo(dtype).tiny) * 2.0**24  # squares below it lose precision, then underflow
    largest = max(big_m, big_q)
    fits = (
        max(big_m * big_q, max(int(n_patterns), 1) * big_m) <= limit_dt
        and largest * largest <= limit_acc
        and (largest == 0.0 or largest * largest >= smallest)
    )
    shift = 0 if fits else math.frexp(largest)[1]  # largest * 2^-shift in [1/2, 1)
    if abs(shift) > MAX_SHIFT:
        raise CoreError(
            "patterns",
            f"norms up to 1e154 are supported (the energy ~ M^2 must fit float64); got {largest:.3g}",
        )
    m, q = math.ldexp(big_m, -shift), math.ldexp(big_q, -shift)
    try:
        scaled = math.ldexp(beta, 2 * shift)
    except OverflowError:
        scaled = math.inf
    return Scaling(shift, min(scaled, limit_acc / max(m * q, q, 1.0)))
