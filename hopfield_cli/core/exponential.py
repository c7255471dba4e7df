"""Exponential interaction memory (Demircigil et al. 2017), the binary ancestor of Ramsauer et al. (2021).

F(z) = exp(beta z) in the dense-memory update (``dense.py``):
    T_j(xi) = sgn(sum_i exp(beta (x_ij + h_ij)) - sum_i exp(beta (-x_ij + h_ij))),   h_ij = sum_{l != j} x_il xi_l.
For +-1 patterns e^(beta (x + h)) - e^(beta (-x + h)) = 2 sinh(beta) x e^(beta h), so
    T_j(xi) = sgn(sum_i x_ij e^(beta h_ij)) = sgn(sum_k a_k e^(beta k)),   a_k = sum_{i: h_ij = k} x_ij,
a sum of integer multiples of e^(beta k), k an integer in [-(d-1), d-1]. e^beta is transcendental for every
float beta > 0 (Lindemann-Weierstrass), so the field is exactly 0 only when every a_k is 0 (the two multisets
of exponents are equal): that tie keeps the bit. Every other sign is decided EXACTLY (``_exact_signs``):
float64 first, relative to the largest exponent H (no overflow at any beta), in two forms with rigorous error
bounds, sum_i x_ij e^(beta (h - H)) and sum_i x_ij + sum_i x_ij expm1(beta (h - H)) (the latter keeps the small-
beta limit: the field -> sum_i x_ij, then the Hebbian sum_i x_ij h_ij); the few fields float64 cannot decide are
summed over the integer a_k in decimal arithmetic with rising precision (``exact_field_sign``).

The reported energy is E(xi) = -(1/beta) log((1/N) sum_i exp(beta x_i^T xi)) = -lse(beta, X^T xi) + beta^-1 log N,
the first and third terms of the modern energy (Eq. 2). The true energy -sum_i exp(beta x_i^T xi) =
-N exp(-beta E) is a strictly increasing function of it, so both order states the same way and "the energy
never increases" holds for both; the reported one lies in [-max_i x_i^T xi, -mean_i x_i^T xi], finite at every
beta, and tends to -mean_i x_i^T xi as beta -> 0 (to -max_i x_i^T xi as beta -> inf). Capacity: up to 2^(d/2)
patterns at zero noise; at Hamming radius rho d, exp(alpha d) patterns are recovered when alpha < I(1 - 2 rho)/2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import ClassVar

import torch

from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.classical import overlap_sweep_result
from hopfield_cli.core.dense import pattern_chunks
from hopfield_cli.core.errors import CoreError

MIN_BETA = 1e-300  # below it beta * (x_i^T xi) nears float64's subnormal range (2.2e-308) and loses digits
EPS = torch.finfo(torch.float64).eps
DIGITS = (40, 160, 640, 2560)  # decimal precisions tried in turn for a field float64 cannot decide


@dataclass
class ExponentialMemory:
    """Demircigil et al. exponential memory, F(z) = exp(beta z), asynchronous binary update, exact signs.

    One sweep in a random order (seeded by ``seed``) is one step; ``eps`` is unused (binary states).
    The computation runs in float64 (decimal where float64 cannot decide a sign); results come back in the
    input dtype. ``exact_decisions`` counts the fields of the last ``retrieve`` that float64 could not decide.
    """

    beta: float = 1.0
    seed: int = 0
    name: ClassVar[str] = "exponential"
    exact_decisions: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.beta < float("inf")):
            raise CoreError("beta", f"beta must be > 0 and finite; got {self.beta}")
        if self.beta < MIN_BETA:
            raise CoreError(
                "beta",
                f"model exponential needs beta >= {MIN_BETA:g}: beta * x_i^T xi must stay a normal float64 "
                f"(every smaller beta acts as the beta -> 0 limit); got {self.beta:g}",
            )

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """E(xi) = -(1/beta) log((1/N) sum_i exp(beta x_i^T xi)) (module docstring; Eq. 2's terms 1 and 3)."""
        x, xi = patterns.double(), states.double()
        return self._energy(xi @ x.T).to(states.dtype)

    def _energy(self, overlaps: torch.Tensor) -> torch.Tensor:
        """E from the (B, N) overlaps z, over pattern chunks (no (B, N) temporary).

        With u_i = beta (z_i - max z) <= 0: log mean e^u = log(S/N) with S = sum e^u when S/N < 1/2, else
        log1p(sum expm1(u) / N) (every expm1 term <= 0: no cancellation; log1p is well conditioned there).
        The second form keeps E -> -mean z as beta -> 0, where log(S/N) would round to 0.
        """
        beta = float(self.beta)
        n = overlaps.shape[1]
        top = overlaps.amax(dim=1)  # (B,)
        plain = torch.zeros_like(top)
        small = torch.zeros_like(top)
        for part in pattern_chunks(n, overlaps.shape[0]):
            u = (overlaps[:, part] - top[:, None]).mul_(beta)
            small += torch.expm1(u).sum(1)
            plain += u.exp_().sum(1)
        mean_log = torch.where(plain < 0.5 * n, torch.log(plain / n), torch.log1p(small / n))
        return -(top + mean_log / beta)

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
        column_sums = x.sum(0)  # (d,) sum_i x_ij, exact integers
        self.exact_decisions = 0
        # one (B, chunk) work buffer for the whole run: the d sweeps allocate nothing of that size, so the
        # allocator has nothing to fragment (fresh temporaries per chunk made the peak memory vary 2x by run)
        size = xi.shape[0] * max((p.stop - p.start for p in chunks), default=0)
        buffer = torch.empty(size, dtype=x.dtype, device=x.device)

        def rest(part: slice, j: int, states: torch.Tensor, overlaps: torch.Tensor) -> torch.Tensor:
            """h_ij = s_i - x_ij xi_j for the patterns of ``part``, (B, n) in the work buffer."""
            shape = (states.shape[0], part.stop - part.start)
            out = buffer[: shape[0] * shape[1]].view(shape)
            return torch.addr(overlaps[:, part], states[:, j], x[part, j], alpha=-1, out=out)

        def field(j: int, states: torch.Tensor, overlaps: torch.Tensor) -> torch.Tensor:
            top = torch.stack([rest(p, j, states, overlaps).amax(dim=1) for p in chunks], 1).amax(1)  # (B,) H
            sums = torch.zeros(5, states.shape[0], dtype=x.dtype, device=x.device)
            for part in chunks:
                u = rest(part, j, states, overlaps).sub_(top[:, None]).mul_(beta)  # (B, n) beta (h - H) <= 0
                _add_field_sums(sums, u, x[part, j])
            score, decided = _float_decision(sums, float(column_sums[j]), x.shape[0])
            undecided = (~decided).nonzero().flatten()
            if undecided.numel():
                self.exact_decisions += int(undecided.numel())
                h = overlaps[undecided] - states[undecided, j : j + 1] * x[:, j]  # (b, N) exact integers
                score[undecided] = _exact_signs(h, x[:, j], beta).to(score)
            return score

        return overlap_sweep_result(
            x, xi, field, self._energy, seed=self.seed, update_steps_max=update_steps_max, dtype=queries.dtype
        )


def _add_field_sums(sums: torch.Tensor, u: torch.Tensor, column: torch.Tensor) -> None:
    """Accumulate, per row, the sums the float64 decision needs (``u`` = beta (h - H) is overwritten).

    Rows of ``sums``: sum x e^u, sum e^u, sum x expm1(u), sum -expm1(u), sum |u| e^u (the last bounds the
    error that the rounding of u itself carries into e^u and expm1(u): d e^u = e^u du, |du| <= eps |u|).
    """
    small = torch.expm1(u)  # (B, n), each <= 0
    sums[2] += small @ column
    sums[3] -= small.sum(1)
    e = u.exp()
    sums[0] += e @ column
    sums[1] += e.sum(1)
    sums[4] -= torch.where(e > 0, u * e, 0.0).sum(1)  # u = -inf (beta huge) has e = 0: no inf * 0


def _float_decision(sums: torch.Tensor, column_sum: float, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The field's sign where float64 decides it, with a flag per row (True: decided).

    Two evaluations of e^(-beta H) sum_i x_ij e^(beta h_ij): S1 = sum x e^u and S2 = sum x + sum x expm1(u)
    (sum x exact). Each term carries at most ~2 eps of its own rounding plus eps |u| e^u from u's, and a sum of
    n terms adds (n - 1) eps of the sum of magnitudes; the bounds below double all of that. A sign is decided
    where either |S| exceeds its bound (both approximate the same number, so they cannot disagree there).
    """
    plain, plain_abs, small, small_abs, drift = sums
    slack = 2 * EPS * (n + 4)
    bound1 = slack * (plain_abs + drift)
    bound2 = slack * (small_abs + drift + abs(column_sum))
    total2 = small + column_sum
    first = plain.abs() > bound1
    score = torch.where(first, plain, torch.where(total2.abs() > bound2, total2, torch.zeros_like(plain)))
    return score, first | (total2.abs() > bound2)


def _exact_signs(h: torch.Tensor, column: torch.Tensor, beta: float) -> torch.Tensor:
    """sgn(sum_k a_k e^(beta k)) per row, a_k = sum_{i: h_i = k} x_ij (integers), exactly; (b,) float64."""
    low = int(h.min())
    index = (h - low).long()  # (b, N)
    a = torch.zeros(h.shape[0], int(index.max()) + 1, dtype=torch.float64, device=h.device)
    a.scatter_add_(1, index, column.to(a.dtype).expand_as(h))
    signs = []
    for row in a.cpu().tolist():
        coefficients = {k + low: int(c) for k, c in enumerate(row) if c != 0}
        signs.append(exact_field_sign(coefficients, beta))
    return torch.tensor(signs, dtype=torch.float64)


def exact_field_sign(coefficients: dict[int, int], beta: float) -> int:
    """The sign of sum_k a_k e^(beta k) for integers a_k, k (0 only when every a_k is 0).

    The sum is a nonzero integer polynomial in the transcendental e^beta unless all a_k vanish, so some
    precision decides it. The exponents are shifted by the largest k with a_k != 0 (K), so every term is at
    most |a_k|. Small beta D (D the largest |k - K|): the power series in beta in exact rational arithmetic
    (``_series_sign``); otherwise, or when that fails: decimal arithmetic (exp correctly rounded) at rising
    precision until |sum| exceeds a bound on its rounding error.
    """
    if not coefficients:
        return 0
    top = max(coefficients)
    shifted = {k - top: a for k, a in coefficients.items()}
    spread = -min(shifted)
    if spread == 0:
        return 1 if shifted[0] > 0 else -1
    if beta * spread < 1e-3:
        sign = _series_sign(shifted, beta, spread)
        if sign:
            return sign
    exact_beta = Decimal(beta)  # the float's exact binary value
    for digits in DIGITS:
        with localcontext() as ctx:
            ctx.prec = digits
            ctx.Emin, ctx.Emax = -(10**9), 10**9
            total, scale = Decimal(0), Decimal(0)
            for k, a in shifted.items():
                u = exact_beta * k  # <= 0
                term = u.exp()
                total += a * term
                scale += abs(a) * term * (1 - u)  # u's own rounding moves e^u by e^u |u| 10^-digits
            if abs(total) > scale * (len(shifted) + 4) * Decimal(10) ** (1 - digits):
                return 1 if total > 0 else -1
    return 0  # not reached in practice (no tie but beyond 2560 digits); a tie keeps the bit


def _series_sign(shifted: dict[int, int], beta: float, spread: int) -> int:
    """sgn(sum_k a_k e^(beta k)) from its power series in beta, in exact rational arithmetic (beta D < 1e-3).

    sum_k a_k e^(beta k) = sum_m beta^m / m! M_m with the integer moments M_m = sum_k a_k k^m, |M_m| <= A D^m
    (A = sum |a_k|, D the largest |k|), so after the terms m <= L the rest is at most
    A (beta D)^(L+1) / (L+1)! e^(beta D) < 2 A (beta D)^(L+1) / (L+1)!. The partial sum decides once it is
    larger than that; each further term shrinks the bound ~1000-fold. Returns 0 if 200 terms do not decide.
    """
    b = Fraction(beta)  # the float's exact binary value
    weight = sum(abs(a) for a in shifted.values())
    partial, power, factorial = Fraction(0), Fraction(1), 1  # power = beta^m
    for m in range(200):
        partial += power * sum(a * k**m for k, a in shifted.items()) / factorial
        factorial *= m + 1
        power *= b
        tail = 2 * weight * power * spread ** (m + 1) / factorial
        if abs(partial) > tail:
            return 1 if partial > 0 else -1
    return 0
