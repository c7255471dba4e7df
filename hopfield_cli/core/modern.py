"""The modern continuous Hopfield network of Ramsauer et al. (2021): energy Eq. 2, update Eq. 3.

``reference_update`` and ``reference_energy`` state Eqs. 3 and 2 as written, on the full (B, N) score matrix.
``ModernHopfield`` computes the same with one softmax pass over the patterns (``streaming.softmax_pass``), which
never holds more than ``memory_budget`` bytes of scores. The budget is resolved and the chunks are planned once
per call (``budget``). The pass that updates xi_t also yields lse(beta, X^T xi_t), so the energy of every visited
state comes free; only the final state needs one more pass (which also gives max_i p_i and k90).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from hopfield_cli.core import budget, scaling, streaming
from hopfield_cli.core.base import RetrievalResult
from hopfield_cli.core.errors import CoreError


def reference_update(patterns: torch.Tensor, states: torch.Tensor, beta: float) -> torch.Tensor:
    """Eq. 3 as written: xi_new = X softmax(beta X^T xi), on the whole (B, N) score matrix. (B, d)

    No chunking and no tricks beyond torch.softmax's max shift: the plain form the streaming pass must match.
    Computed and returned in float64 whatever the input dtype.
    """
    x, xi = patterns.double(), states.double()
    return torch.softmax(beta * xi @ x.T, dim=1) @ x


def reference_energy(patterns: torch.Tensor, states: torch.Tensor, beta: float) -> torch.Tensor:
    """Eq. 2 as written: E(xi) = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log N + 1/2 M^2, M = max_i ||x_i||.

    lse(beta, z) = beta^-1 log sum_i exp(beta z_i) by torch.logsumexp on the whole (B, N) score matrix. (B,)
    Computed and returned in float64. At tiny beta -lse and beta^-1 log N cancel here, which
    ``ModernHopfield.energy`` avoids.
    """
    x, xi = patterns.double(), states.double()
    lse = torch.logsumexp(beta * xi @ x.T, dim=1) / beta
    big_m = torch.linalg.vector_norm(x, dim=1).max()
    return -lse + 0.5 * (xi * xi).sum(dim=1) + math.log(x.shape[0]) / beta + 0.5 * big_m**2


def _check(patterns: torch.Tensor, states: torch.Tensor) -> None:
    if patterns.dim() != 2 or states.dim() != 2:
        raise ValueError(
            f"patterns (N, d) and states (B, d) must be 2-D, got {tuple(patterns.shape)}, {tuple(states.shape)}"
        )
    if patterns.shape[1] != states.shape[1]:
        raise ValueError(f"pattern dim {patterns.shape[1]} != state dim {states.shape[1]}")
    if patterns.shape[0] < 1:
        raise ValueError("at least one stored pattern is needed")


@dataclass
class ModernHopfield:
    """Modern Hopfield network with inverse temperature ``beta``.

    ``memory_budget``: bytes allowed for temporary score blocks (None: ``budget.default_memory_budget``, read
    once per call). ``query_chunk`` / ``pattern_chunk``: force chunk sizes (tests). ``k90_cap``: top-K kept per
    query when patterns must be streamed (k90 is exact up to it; see ``streaming``).
    """

    beta: float
    memory_budget: int | None = None
    query_chunk: int | None = None
    pattern_chunk: int | None = None
    k90_cap: int = budget.DEFAULT_K90_CAP

    name = "modern"

    def __post_init__(self) -> None:
        if not (self.beta > 0 and self.beta < float("inf")):
            raise CoreError("beta", f"beta must be a positive finite number, got {self.beta}")

    # -- planning (once per call) ---------------------------------------------------------------------------
    def _plan(
        self, patterns: torch.Tensor, n_queries: int, *, with_stats: bool, memory_budget: int
    ) -> budget.ChunkPlan:
        """Chunk sizes for passes over up to ``n_queries`` queries; fewer queries reuse the same sizes."""
        return budget.plan_chunks(
            patterns.shape[0],
            n_queries,
            dtype=patterns.dtype,
            memory_budget=memory_budget,
            with_stats=with_stats,
            k90_cap=self.k90_cap,
            query_chunk=self.query_chunk,
            pattern_chunk=self.pattern_chunk,
        )

    def _units(self, patterns: torch.Tensor, states: torch.Tensor, norm_max: float) -> scaling.Scaling:
        """The units in which no score, sum or energy overflows (``scaling``); as given for ordinary inputs."""
        return scaling.plan_scaling(
            norm_max,
            streaming.max_norm(states),
            patterns.shape[0],
            float(self.beta),
            dtype=patterns.dtype,
            acc=streaming.acc_dtype(patterns.dtype),
        )

    def _pass(
        self,
        patterns: torch.Tensor,
        states: torch.Tensor,
        plan: budget.ChunkPlan,
        *,
        beta: float,
        with_states: bool,
        with_stats: bool,
        norm_max: float | None = None,
    ) -> streaming.PassResult:
        return streaming.softmax_pass(
            patterns,
            states.to(patterns.dtype),
            beta,
            plan=plan,
            with_states=with_states,
            with_stats=with_stats,
            k90_cap=self.k90_cap,
            pattern_norm_max=norm_max,
        )

    def _one_pass(
        self,
        patterns: torch.Tensor,
        states: torch.Tensor,
        units: scaling.Scaling,
        *,
        with_states: bool,
        norm_max: float,
    ) -> streaming.PassResult:
        """A single pass (``energy``, ``update``) in ``units``: resolve the budget, plan, compute."""
        memory_budget = budget.resolve_budget(self.memory_budget, patterns.device)
        plan = self._plan(patterns, states.shape[0], with_stats=False, memory_budget=memory_budget)
        return self._pass(
            units.down(patterns),
            units.down(states.to(patterns.dtype)),
            plan,
            beta=units.beta,
            with_states=with_states,
            with_stats=False,
            norm_max=units.length(norm_max),
        )

    @staticmethod
    def _energy_from(lse_centered: torch.Tensor, states: torch.Tensor, norm_max: float) -> torch.Tensor:
        """Eq. 2 with the log N term folded in: E = -(lse - beta^-1 log N) + 1/2 xi^T xi + 1/2 M^2."""
        sq = torch.linalg.vector_norm(states, dim=1, dtype=lse_centered.dtype).square()
        return -lse_centered + 0.5 * sq + 0.5 * norm_max**2

    # -- public API -----------------------------------------------------------------------------------------
    def energy(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """Energy E(xi) of each state, Eq. 2: -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log N + 1/2 M^2. (B,)

        -lse + beta^-1 log N is computed as -beta^-1 log(mean_i exp(beta x_i^T xi)) with a max shift, or with
        log1p/expm1 when all |beta x_i^T xi| <= 1/2, so it neither overflows at large beta nor cancels at tiny beta.
        """
        _check(patterns, states)
        norm_max = streaming.max_norm(patterns)
        units = self._units(patterns, states, norm_max)
        res = self._one_pass(patterns, states, units, with_states=False, norm_max=norm_max)
        scaled = units.down(states.to(patterns.dtype))
        return units.squared_up(self._energy_from(res.lse_centered, scaled, units.length(norm_max)))

    def update(self, patterns: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
        """One update, Eq. 3: xi_new = X softmax(beta X^T xi). (B, d), in the patterns' dtype."""
        _check(patterns, states)
        norm_max = streaming.max_norm(patterns)
        units = self._units(patterns, states, norm_max)
        res = self._one_pass(patterns, states, units, with_states=True, norm_max=norm_max)
        return units.up(res.states)

    def retrieve(
        self,
        patterns: torch.Tensor,  # (N, d)
        queries: torch.Tensor,  # (B, d)
        *,
        update_steps_max: int,
        eps: float,
        stats: bool = True,
    ) -> RetrievalResult:
        """Iterate Eq. 3 until ||xi_{t+1} - xi_t|| <= eps per query, or ``update_steps_max`` updates.

        Converged queries leave the batch: each step computes only the still-active rows. Energies (Eq. 2) of
        xi_t come from the pass that updates xi_t; one final pass gives the final energy, max_i p_i and k90.
        Free memory is read once, and the budget and chunk plans are fixed before the first step. Norms or a
        beta that would overflow are computed in scaled units (``scaling``; a scaled copy of the patterns,
        energies then in float64), so every result is finite.

        ``stats=False`` skips the final pass (a capacity cell's success test needs only the final states): the
        energies of the final state are then NaN and ``max_weight``/``k90`` None. ``patterns`` may also be a
        source drawn block by block (``pattern_bank.DrawnPatterns``), read once per pass.
        """
        _check(patterns, queries)
        if update_steps_max < 0:
            raise ValueError(f"update_steps_max must be >= 0, got {update_steps_max}")
        n, d = patterns.shape
        b = queries.shape[0]
        dev = patterns.device
        free = budget.available_memory(dev)
        memory_budget = budget.resolve_budget(self.memory_budget, dev, free=free)
        step_plan = self._plan(patterns, b, with_stats=False, memory_budget=memory_budget)
        final_plan = self._plan(patterns, b, with_stats=True, memory_budget=memory_budget)
        budget.estimate_memory(
            n,
            b,
            d,
            dtype=patterns.dtype,
            device=dev,
            memory_budget=memory_budget,
            update_steps_max=update_steps_max,
            patterns_allocated=True,  # a drawn source holds only its blocks in flight
            k90_cap=self.k90_cap,
            free=free,
            plan=final_plan,
        )
        acc = streaming.acc_dtype(patterns.dtype)
        norm_max = streaming.max_norm(patterns)
        units = self._units(patterns, queries, norm_max)
        patterns, beta = units.down(patterns), units.beta  # a scaled copy only for extreme norms
        norm_max, eps = units.length(norm_max), units.length(eps)
        states = units.down(queries.to(device=dev, dtype=patterns.dtype)).clone()
        energies = torch.empty(b, update_steps_max + 1, dtype=acc, device=dev)
        steps = torch.zeros(b, dtype=torch.int64, device=dev)
        converged = torch.zeros(b, dtype=torch.bool, device=dev)
        active = torch.arange(b, device=dev)
        for t in range(update_steps_max):
            if active.numel() == 0:
                break
            current = states[active]  # (A, d)
            res = self._pass(
                patterns, current, step_plan, beta=beta, with_states=True, with_stats=False, norm_max=norm_max
            )
            energies[active, t] = self._energy_from(res.lse_centered, current, norm_max)
            moved = torch.linalg.vector_norm((res.states - current).to(acc), dim=1)
            states[active] = res.states
            steps[active] += 1
            done = moved <= eps
            converged[active[done]] = True
            active = active[~done]
        if stats:
            final = self._pass(
                patterns, states, final_plan, beta=beta, with_states=False, with_stats=True, norm_max=norm_max
            )
            e_final = self._energy_from(final.lse_centered, states, norm_max)
        else:
            final = streaming.PassResult(states=None, lse_centered=torch.empty(0))
            e_final = torch.full((b,), math.nan, dtype=acc, device=dev)
        cols = torch.arange(update_steps_max + 1, device=dev)
        energies = units.squared_up(torch.where(cols[None, :] >= steps[:, None], e_final[:, None], energies))
        states = units.up(states)
        return RetrievalResult(
            states=states,
            steps=steps,
            energies=energies,
            converged=converged,
            max_weight=final.max_weight,
            k90=final.k90,
            k90_cap=final.k90_cap,
        )
