"""Classical binary Hopfield network (Hopfield 1982), the baseline of Ramsauer et al. (2021), Section 1.

W = (1/d) sum_i x_i x_i^T with zero diagonal, state update xi <- sgn(W xi), energy E = -1/2 xi^T W xi.
Patterns and states are +-1 (``models.check_binary`` is the gate). W is never built when N <= d: then
W xi = (X^T (X xi) - diag(W_raw) xi) / d costs O(N d) per query instead of O(d^2).

This module also holds ``async_sweeps``, the asynchronous binary dynamics shared with the dense and
exponential families (``dense.py``, ``exponential.py``): they differ only in the field that decides the sign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch

from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.errors import CoreError

UPDATES = ("async", "sync")

# field(j, states, overlaps) -> (B,) score; the new component is +1 where score > 0, -1 where < 0, unchanged at 0.
Field = Callable[[int, torch.Tensor, torch.Tensor | None], torch.Tensor]
# energy(states, overlaps) -> (B,)
Energy = Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor]


def signed_step(score: torch.Tensor, current: torch.Tensor) -> torch.Tensor:
    """sgn(score) with sgn(0) keeping the current value, so a tie never flips a bit (and never raises E)."""
    return torch.where(score > 0, 1.0, torch.where(score < 0, -1.0, current)).to(current.dtype)


def async_sweeps(
    patterns: torch.Tensor,  # (N, d) float64, +-1
    queries: torch.Tensor,  # (B, d) float64, +-1
    field: Field,
    energy: Energy,
    *,
    seed: int,
    update_steps_max: int,
    track_overlaps: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Asynchronous binary dynamics: sweeps over the d components in a random order.

    Each sweep draws one permutation of the components from a CPU ``torch.Generator`` seeded with ``seed``
    (a fresh generator per call, so results are reproducible); the order is shared by the whole batch, which
    keeps the update batched. A sweep is one step; a query has converged after a sweep that changes none of
    its components (then it is a fixed point of every single-component update, in any order). ``steps``
    counts that confirming sweep. When ``track_overlaps`` the overlaps s = X xi (B, N) are kept up to date
    incrementally: a flip of component j changes s by x_{.j} (xi_j_new - xi_j_old), O(N) per query.

    Returns states (B, d), steps (B,), energies (B, update_steps_max + 1), converged (B,) (float64 / int64 /
    bool); the loop stops once every query has converged and the energies are padded with each row's last value.
    """
    d = queries.shape[1]
    states = queries.clone()
    overlaps = states @ patterns.T if track_overlaps else None  # (B, N)
    batch = states.shape[0]
    steps = torch.zeros(batch, dtype=torch.int64, device=states.device)
    converged = torch.zeros(batch, dtype=torch.bool, device=states.device)
    energies = [energy(states, overlaps)]
    generator = torch.Generator().manual_seed(int(seed))
    for _ in range(update_steps_max):
        if bool(converged.all()):
            break
        changed = torch.zeros(batch, dtype=torch.bool, device=states.device)
        for j in torch.randperm(d, generator=generator).tolist():
            old = states[:, j]
            new = signed_step(field(j, states, overlaps), old)
            flipped = new != old
            if bool(flipped.any()):
                if overlaps is not None:
                    overlaps.addr_(new - old, patterns[:, j])  # in place: no (B, N) temporary
                states[:, j] = new
                changed |= flipped
        steps += (~converged).long()
        converged |= ~changed
        energies.append(energy(states, overlaps))
    return states, steps, pad_energies(torch.stack(energies, dim=1), update_steps_max), converged


def overlap_sweep_result(
    patterns: torch.Tensor,  # (N, d) float64, +-1
    queries: torch.Tensor,  # (B, d) float64, +-1
    field: Field,
    overlap_energy: Callable[[torch.Tensor], torch.Tensor],
    *,
    seed: int,
    update_steps_max: int,
    dtype: torch.dtype,
) -> RetrievalResult:
    """``async_sweeps`` for a family whose energy depends on the overlaps X xi alone (dense, exponential)."""
    states, steps, energies, converged = async_sweeps(
        patterns,
        queries,
        field,
        lambda _states, overlaps: overlap_energy(overlaps),
        seed=seed,
        update_steps_max=update_steps_max,
    )
    return RetrievalResult(
        states=states.to(dtype), steps=steps, energies=energies.to(dtype), converged=converged
    )


@dataclass
class ClassicalHopfield:
    """Binary Hopfield network with the Hebbian rule W = (1/d) sum_i x_i x_i^T, zero diagonal.

    ``update="async"`` updates one component at a time (random order per sweep, see ``async_sweeps``) and
    never raises the energy, so it converges. ``update="sync"`` updates all components at once and may end
    in a 2-cycle; it then runs to ``update_steps_max`` and reports converged=False. ``eps`` is not used:
    binary states move by at least 2 per flipped bit, so convergence means "no bit changed".
    The computation runs in float64 (overlaps are exact integers); results come back in the input dtype.
    """

    update: str = "async"
    seed: int = 0
    name: ClassVar[str] = "classical"

    def __post_init__(self) -> None:
        if self.update not in UPDATES:
            raise CoreError("update_rule", f"'{self.update}' is not one of {', '.join(UPDATES)}")

    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """E(xi) = -1/2 xi^T W xi, from the overlaps: W has zero diagonal, so the self terms are removed."""
        x, xi = patterns.double(), states.double()
        return _energy_from_overlaps(x, xi, xi @ x.T).to(states.dtype)

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float = 0.0,
    ) -> RetrievalResult:
        x, xi = patterns.double(), queries.double()
        n_patterns, d = x.shape
        diag = (x * x).sum(0)  # (d,) diagonal of X^T X, removed to give W a zero diagonal
        if self.update == "async":
            use_weights = n_patterns > d  # O(d) per component via a row of W, else O(N) via the overlaps
            weights = _hebbian(x) if use_weights else None  # d * W, exact integers

            def field(j: int, states: torch.Tensor, overlaps: torch.Tensor | None) -> torch.Tensor:
                if weights is not None:
                    return states @ weights[:, j]
                return overlaps @ x[:, j] - diag[j] * states[:, j]

            def energy(states: torch.Tensor, overlaps: torch.Tensor | None) -> torch.Tensor:
                if overlaps is None:
                    return -0.5 * ((states @ weights) * states).sum(1) / d
                return _energy_from_overlaps(x, states, overlaps)

            states, steps, energies, converged = async_sweeps(
                x,
                xi,
                field,
                energy,
                seed=self.seed,
                update_steps_max=update_steps_max,
                track_overlaps=not use_weights,
            )
        else:
            states, steps, energies, converged = self._sync(x, xi, diag, update_steps_max)
        return RetrievalResult(
            states=states.to(queries.dtype),
            steps=steps,
            energies=energies.to(queries.dtype),
            converged=converged,
        )

    def _sync(self, x: torch.Tensor, xi: torch.Tensor, diag: torch.Tensor, update_steps_max: int):
        """xi <- sgn(W xi) for all components at once; W is built only when 2N > d makes it cheaper."""
        weights = _hebbian(x) if 2 * x.shape[0] > x.shape[1] else None

        def local_field(states: torch.Tensor) -> torch.Tensor:  # (B, d) = d * W xi, same sign as W xi
            if weights is not None:
                return states @ weights
            return (states @ x.T) @ x - diag * states

        states = xi.clone()
        batch = states.shape[0]
        steps = torch.zeros(batch, dtype=torch.int64, device=states.device)
        converged = torch.zeros(batch, dtype=torch.bool, device=states.device)
        energies = [_energy_from_overlaps(x, states, states @ x.T)]
        for _ in range(update_steps_max):
            if bool(converged.all()):
                break
            new = signed_step(local_field(states), states)
            new = torch.where(converged[:, None], states, new)  # a converged query is a fixed point; keep it
            changed = (new != states).any(1)
            states = new
            steps += (~converged).long()
            converged |= ~changed
            energies.append(_energy_from_overlaps(x, states, states @ x.T))
        return states, steps, pad_energies(torch.stack(energies, dim=1), update_steps_max), converged


def pad_energies(energies: torch.Tensor, update_steps_max: int) -> torch.Tensor:
    """(B, T + 1) -> (B, update_steps_max + 1), repeating each row's last value (the modern net's layout)."""
    missing = update_steps_max + 1 - energies.shape[1]
    return torch.cat([energies, energies[:, -1:].expand(-1, missing)], dim=1) if missing > 0 else energies


def _hebbian(x: torch.Tensor) -> torch.Tensor:
    """d * W = X^T X with zero diagonal, (d, d). Kept unscaled: for +-1 patterns its entries and the fields
    it gives are exact integers, so a tie is an exact 0 (dividing by d would let rounding break ties)."""
    weights = x.T @ x
    weights.fill_diagonal_(0.0)
    return weights


def _energy_from_overlaps(x: torch.Tensor, states: torch.Tensor, overlaps: torch.Tensor) -> torch.Tensor:
    """-1/2 xi^T W xi = -(sum_i (x_i . xi)^2 - sum_j (sum_i x_ij^2) xi_j^2) / (2 d)."""
    self_terms = (states * states) @ (x * x).sum(0)
    return -((overlaps * overlaps).sum(1) - self_terms) / (2 * x.shape[1])
