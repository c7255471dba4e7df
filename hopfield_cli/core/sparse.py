"""Sparse modern Hopfield network (Hu et al. 2023; Santos et al. 2024): alpha-entmax in place of softmax.

Update: p = entmax_alpha(beta X^T xi), xi_new = X p (Eq. 3 of Ramsauer et al. 2021 with softmax replaced).
Energy:  E(xi) = -(1/beta) Psi*(beta X^T xi) + 1/2 xi^T xi + (1/beta) H_max + 1/2 M^2, where
    Psi*(z) = max_{p in simplex} <p, z> + H^T_alpha(p) = <p, z> + H^T_alpha(p) at p = entmax_alpha(z),
    H^T_alpha(p) = (1/(alpha (alpha - 1))) sum_j (p_j - p_j^alpha)          (Tsallis entropy),
    H_max = H^T_alpha(uniform) = (1 - N^(1 - alpha)) / (alpha (alpha - 1)),  M = max_i ||x_i||.
Psi* is convex with gradient entmax_alpha(z) (Danskin), so the update is the CCCP step of the split
E = [1/2 xi^T xi] + [-(1/beta) Psi*(beta X^T xi)] exactly as for the modern net (Theorem 1): E never increases.
The constant 1/(alpha (alpha - 1)) is the one for which entmax_alpha is the maximiser (alpha = 2: sparsemax
maximises <p, z> - 1/2 ||p||^2); the tests check grad E = xi - X p numerically, which fails for any other
constant. The two constants mirror Eq. 2 so that E >= 0 (as alpha -> 1, H_max -> log N); they do not move
the minimisers. At finite beta the weights p are exactly sparse and a well-separated pattern is a fixed
point exactly (max_weight = 1, k90 = 1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import torch

from hopfield_cli.core import scaling
from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.classical import pad_energies
from hopfield_cli.core.errors import CoreError
from hopfield_cli.core.fixed_points import k90
from hopfield_cli.core.streaming import max_norm


def _entmax_function(alpha: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """entmax_alpha over the last dimension from the ``entmax`` package (imported here: it is optional)."""
    try:
        import entmax
    except ImportError as error:
        raise CoreError(
            "model",
            "model sparse needs the 'entmax' package; install it with pip install entmax (a dependency of hopfield-cli)",
        ) from error
    if alpha == 2.0:
        return lambda z: entmax.sparsemax(z, dim=-1)
    if alpha == 1.5:
        return lambda z: entmax.entmax15(z, dim=-1)
    return lambda z: entmax.entmax_bisect(z, alpha=alpha, dim=-1)


ROW_CHUNK_ELEMENTS = 1 << 20  # (rows x N) score blocks: their float64 copies and sort stay under ~150 MiB
LINEAR_SCORE = 1e-8  # beta M Q below this: p is uniform to float rounding and E takes its beta -> 0 limit


@dataclass
class SparseHopfield:
    """Modern Hopfield network with alpha-entmax weights (alpha = 2: sparsemax, 1.5: entmax15, other > 1: bisection).

    Convergence, steps and energies follow the modern net: a query has converged once
    ||xi_{t+1} - xi_t|| <= eps (steps counts that update), after which it is frozen and its energy repeated.
    entmax is shift invariant, so the scores are taken relative to their maximum, beta (x_i^T xi - max_j x_j^T xi),
    and clamped at -(1/(alpha - 1) + 1): a score that far below the maximum has weight exactly 0 (p_max <= 1 puts
    the threshold within 1/(alpha - 1) of it), so the clamp changes no weight and no beta overflows. Norms that
    would overflow are computed in scaled units (``scaling``). Energies are float64.
    """

    beta: float
    alpha: float = 2.0
    name: ClassVar[str] = "sparse"

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.beta < float("inf")):
            raise CoreError("beta", f"beta must be > 0 and finite; got {self.beta}")
        if not self.alpha > 1:
            raise CoreError(
                "alpha", f"alpha must be > 1 (alpha = 1 is softmax: use model=modern); got {self.alpha}"
            )
        self.alpha = float(self.alpha)

    def _units(self, patterns: torch.Tensor, states: torch.Tensor) -> scaling.Scaling:
        return scaling.plan_scaling(
            max_norm(patterns),
            max_norm(states),
            patterns.shape[0],
            float(self.beta),
            dtype=patterns.dtype,
            acc=patterns.dtype,
        )

    def _weights(self, z: torch.Tensor, beta: float) -> torch.Tensor:
        """entmax_alpha(beta (z - max z)) of the scores z = X^T xi, clamped (class docstring)."""
        shifted = (beta * (z - z.amax(dim=1, keepdim=True))).clamp_min(-(1.0 / (self.alpha - 1.0) + 1.0))
        return _entmax_function(self.alpha)(shifted)

    def weights(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """p = entmax_alpha(beta X^T xi), (B, N), rows on the simplex with exact zeros."""
        units = self._units(patterns, states)
        return self._weights(units.down(states) @ units.down(patterns).T, units.beta)

    def update(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """One update xi_new = X p: a convex combination of the stored patterns."""
        return self.weights(patterns, states) @ patterns

    def _energy(
        self, patterns: torch.Tensor, states: torch.Tensor, beta: float, norm_max_sq: float
    ) -> torch.Tensor:
        """E = -<p, z> + (H_max - H(p)) / beta + 1/2 xi^T xi + 1/2 M^2 (z = X^T xi), summed in float64.

        The module docstring's energy with Psi*(beta z) = beta <p, z> + H(p) written out; the deficit
        H_max - H(p) = (sum_j p_j^alpha - N^(1 - alpha)) / (alpha (alpha - 1)) >= 0 (for alpha = 2 the exact
        1/2 sum_j (p_j - 1/N)^2), so nothing of size 1/beta is formed and subtracted. Once beta M Q is below
        ``LINEAR_SCORE``, p is uniform to rounding and E is its limit -mean_i z_i + 1/2 xi^T xi + 1/2 M^2.
        """
        alpha, n = self.alpha, patterns.shape[0]
        sq = 0.5 * states.double().pow(2).sum(1) + 0.5 * norm_max_sq
        linear = beta * norm_max_sq**0.5 * max_norm(states) <= LINEAR_SCORE
        out = torch.empty(states.shape[0], dtype=torch.float64, device=states.device)
        for rows in row_chunks(states.shape[0], n):
            z = (states[rows] @ patterns.T).double()  # (rows, N)
            if linear:
                out[rows] = -z.mean(1)
                continue
            p = self._weights(z, beta)
            if alpha == 2.0:
                deficit = 0.5 * ((p - 1.0 / n) ** 2).sum(1)
            else:
                deficit = ((p.clamp(min=0) ** alpha).sum(1) - n ** (1 - alpha)) / (alpha * (alpha - 1))
            out[rows] = -(p * z).sum(1) + deficit / beta
        return out + sq

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """E(xi) = -(1/beta) Psi*(beta X^T xi) + 1/2 xi^T xi + (1/beta) H_max + 1/2 M^2 (module docstring)."""
        units = self._units(patterns, states)
        x = units.down(patterns)
        return units.squared_up(self._energy(x, units.down(states), units.beta, _norm_max_sq(x)))

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float,
    ) -> RetrievalResult:
        units = self._units(patterns, queries)
        patterns, beta, eps = units.down(patterns), units.beta, units.length(eps)
        states = units.down(queries).clone()
        norm_max_sq = _norm_max_sq(patterns)
        batch, n = states.shape[0], patterns.shape[0]
        steps = torch.zeros(batch, dtype=torch.int64, device=states.device)
        converged = torch.zeros(batch, dtype=torch.bool, device=states.device)
        energies = [self._energy(patterns, states, beta, norm_max_sq)]
        for _ in range(update_steps_max):
            if bool(converged.all()):
                break
            frozen = converged.clone()
            moved = torch.cat(
                [self._weights(states[r] @ patterns.T, beta) @ patterns for r in row_chunks(batch, n)]
            )
            states_new = torch.where(frozen[:, None], states, moved)
            converged |= (states_new - states).norm(dim=1) <= eps
            states = states_new
            steps += (~frozen).long()
            energies.append(
                torch.where(frozen, energies[-1], self._energy(patterns, states, beta, norm_max_sq))
            )
        max_weight, k = [], []
        for r in row_chunks(batch, n):
            p = self._weights(states[r] @ patterns.T, beta)
            max_weight.append(p.max(dim=1).values)
            k.append(k90(p))
        return RetrievalResult(
            states=units.up(states),
            steps=steps,
            energies=units.squared_up(pad_energies(torch.stack(energies, dim=1), update_steps_max)),
            converged=converged,
            max_weight=torch.cat(max_weight),
            k90=torch.cat(k),
        )


def _norm_max_sq(patterns: torch.Tensor) -> float:
    """M^2 = max_i x_i^T x_i (exact for +-1 entries, unlike the square of a rounded norm)."""
    return float((patterns * patterns).sum(1).max())


def row_chunks(batch: int, n_patterns: int) -> Iterator[slice]:
    """Slices over the B queries so that every (rows, N) score block stays under ``ROW_CHUNK_ELEMENTS``."""
    size = max(1, ROW_CHUNK_ELEMENTS // max(1, n_patterns))
    for start in range(0, batch, size):
        yield slice(start, min(start + size, batch))
