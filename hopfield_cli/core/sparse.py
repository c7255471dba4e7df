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

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.classical import pad_energies
from hopfield_cli.core.errors import CoreError
from hopfield_cli.core.fixed_points import k90


def _entmax_function(alpha: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """entmax_alpha over the last dimension from the ``entmax`` package (imported here: it is optional)."""
    try:
        import entmax
    except ImportError as error:
        raise CoreError(
            "model",
            "model sparse needs the 'entmax' package; install it with pip install 'hopfield-cli[sparse]'",
        ) from error
    if alpha == 2.0:
        return lambda z: entmax.sparsemax(z, dim=-1)
    if alpha == 1.5:
        return lambda z: entmax.entmax15(z, dim=-1)
    return lambda z: entmax.entmax_bisect(z, alpha=alpha, dim=-1)


@dataclass
class SparseHopfield:
    """Modern Hopfield network with alpha-entmax weights (alpha = 2: sparsemax, 1.5: entmax15, other > 1: bisection).

    Convergence, steps and energies follow the modern net: a query has converged once
    ||xi_{t+1} - xi_t|| <= eps (steps counts that update), after which it is frozen and its energy repeated.
    """

    beta: float
    alpha: float = 2.0
    name: ClassVar[str] = "sparse"

    def __post_init__(self) -> None:
        if not self.beta > 0:
            raise CoreError("beta", f"beta must be > 0; got {self.beta}")
        if not self.alpha > 1:
            raise CoreError(
                "alpha", f"alpha must be > 1 (alpha = 1 is softmax: use model=modern); got {self.alpha}"
            )
        self.alpha = float(self.alpha)

    def weights(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """p = entmax_alpha(beta X^T xi), (B, N), rows on the simplex with exact zeros."""
        return _entmax_function(self.alpha)(self.beta * (states @ patterns.T))

    def update(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """One update xi_new = X p: a convex combination of the stored patterns."""
        return self.weights(patterns, states) @ patterns

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """E(xi) = -(1/beta) Psi*(beta X^T xi) + 1/2 xi^T xi + (1/beta) H_max + 1/2 M^2 (module docstring)."""
        alpha, beta = self.alpha, self.beta
        scores = beta * (states @ patterns.T)  # (B, N)
        p = _entmax_function(alpha)(scores)
        tsallis = (p - p.clamp(min=0) ** alpha).sum(1) / (alpha * (alpha - 1))
        conjugate = (p * scores).sum(1) + tsallis
        n_patterns = patterns.shape[0]
        entropy_max = (1 - n_patterns ** (1 - alpha)) / (alpha * (alpha - 1))
        norm_max_sq = (patterns * patterns).sum(1).max()
        return -conjugate / beta + 0.5 * (states * states).sum(1) + entropy_max / beta + 0.5 * norm_max_sq

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float,
    ) -> RetrievalResult:
        states = queries.clone()
        batch = states.shape[0]
        steps = torch.zeros(batch, dtype=torch.int64, device=states.device)
        converged = torch.zeros(batch, dtype=torch.bool, device=states.device)
        energies = [self.energy(patterns, states)]
        for _ in range(update_steps_max):
            if bool(converged.all()):
                break
            frozen = converged.clone()
            states_new = torch.where(frozen[:, None], states, self.update(patterns, states))
            converged |= (states_new - states).norm(dim=1) <= eps
            states = states_new
            steps += (~frozen).long()
            energies.append(torch.where(frozen, energies[-1], self.energy(patterns, states)))
        p = self.weights(patterns, states)
        return RetrievalResult(
            states=states,
            steps=steps,
            energies=pad_energies(torch.stack(energies, dim=1), update_steps_max),
            converged=converged,
            max_weight=p.max(dim=1).values,
            k90=k90(p),
        )
