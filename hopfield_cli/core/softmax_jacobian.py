"""The softmax Jacobian's size per attention row: how much gradient flows through one Hopfield update.

For p = softmax(beta X^T xi) the update's Jacobian is J = beta X (diag(p) - p p^T) X^T (Section 2,
Ramsauer et al. 2021). Its pattern-independent factor is the softmax Jacobian diag(p) - p p^T, whose
Frobenius norm tells the three regimes of Fig. A.5 apart:

    ||diag(p) - p p^T||_F^2 = sum_i p_i^2 (1 - p_i)^2 + sum_{i != j} p_i^2 p_j^2 = S2 - 2 S3 + S2^2,

with S_m = sum_i p_i^m. Uniform weights over k keys give sqrt(k - 1) / k: sqrt(N - 1) / N for global
averaging (small, spread evenly over all N patterns), 1/2 at k = 2 (the largest value, a metastable state),
0 at k = 1 (a single-pattern fixed point: the gradient vanishes).
"""

from __future__ import annotations

import torch

CAREFUL_BELOW = 1e-6  # radicands below this (rows near one-hot) are recomputed without cancellation


def softmax_jacobian_norm(p: torch.Tensor) -> torch.Tensor:
    """||diag(p) - p p^T||_F per row of probabilities ``p`` (..., N) summing to 1 -> (...), in float64.

    The textbook radicand S2 - 2 S3 + S2^2 (two passes over the row) is exact enough for spread rows, but it
    cancels catastrophically near a single-pattern fixed point and can round below zero (NaN after the square
    root). Rows whose radicand is below ``CAREFUL_BELOW`` are recomputed by ``_careful_square``, a sum of
    non-negative terms; the result is clamped at 0, so it is never NaN.
    """
    q = p.double()
    q2 = q.square()
    s2 = q2.sum(dim=-1)
    radicand = s2 - 2.0 * (q2 * q).sum(dim=-1) + s2.square()
    near = radicand < CAREFUL_BELOW
    if bool(near.any()):
        radicand[near] = _careful_square(q[near])
    return radicand.clamp_min(0.0).sqrt()


def _careful_square(q: torch.Tensor) -> torch.Tensor:
    """||diag(q) - q q^T||_F^2 of rows (R, N) as non-negative terms around the largest weight q_m, with
    1 - q_m = sum_{j != m} q_j and S2 - q_m^2 = sum_{j != m} q_j^2 summed directly:

        sum_{i != m} q_i^2 (1 - q_i)^2 + q_m^2 (sum_{j != m} q_j)^2          (the diagonal)
      + sum_{i != m} q_i^2 (S2 - q_i^2) + q_m^2 sum_{j != m} q_j^2          (sum_{i != j} q_i^2 q_j^2)

    so a row that is one-hot up to rounding gives its small true value (2 q_1 q_2 for two keys)."""
    top = q.argmax(dim=-1, keepdim=True)
    is_top = torch.zeros_like(q, dtype=torch.bool).scatter_(-1, top, True)
    qm = q.gather(-1, top).squeeze(-1)
    others = q.masked_fill(is_top, 0.0)
    rest1 = others.sum(dim=-1)  # 1 - q_m
    rest2 = others.square().sum(dim=-1)  # S2 - q_m^2
    s2 = qm.square() + rest2
    diagonal = (others * (1.0 - others)).square().sum(dim=-1) + (qm * rest1).square()
    off = (others.square() * (s2[..., None] - others.square())).sum(dim=-1) + qm.square() * rest2
    return diagonal + off


def diagonal_spread(p: torch.Tensor) -> torch.Tensor:
    """Coefficient of variation of the Jacobian's diagonal p_i (1 - p_i) over the N patterns (..., N) -> (...).

    0 when every pattern receives the same share of the gradient (uniform p, the global fixed point)."""
    d = (p.double() * (1.0 - p.double())).abs()
    mean = d.mean(dim=-1)
    return d.std(dim=-1, correction=0) / mean.clamp_min(torch.finfo(torch.float64).tiny)
