"""The one scoring path: retrieve -> nearest stored pattern -> success, for every experiment.

``score`` runs a model on a batch of queries, finds the stored pattern nearest to each final state (chunked:
``core.nearest``), and, given a criterion, decides success per query:
- nearest (default): the nearest stored pattern is the target AND ||xi* - x|| <= tol ||x|| (tol 0.25: for +-1
  patterns a relative error of 2 sqrt(f) means a fraction f <= 1.56% of wrong components, the error level of
  Amit et al.'s 0.138 d capacity);
- cosine: cos(xi*, x) >= tol (default 0.9, as in Hopfield-Fenchel-Young networks);
- mse: mean squared error per component <= tol (default 0.01).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

# Each criterion's default tolerance (README: success criteria).
SUCCESS_DEFAULT_TOL = {"nearest": 0.25, "cosine": 0.9, "mse": 0.01}
# a state within SURE x separation of its target is nearer to it than to any other pattern, with a margin
# ((1 - SURE)^2 - SURE^2 = 0.1 of separation^2 in squared distance) far beyond the float32 rounding of a ranking
SURE = 0.45


@dataclass
class Scored:
    """A retrieval with its nearest patterns and, when a criterion was given, its success per query."""

    result: Any  # core.base.RetrievalResult
    states: torch.Tensor  # (B, d) final states, at least float32
    nearest_ids: torch.Tensor  # (B,) stored pattern nearest to each final state (or NOT_SEARCHED: ``judge``)
    nearest_distance: torch.Tensor  # (B,)
    target_ids: torch.Tensor | None  # (B,) on the states' device
    success: torch.Tensor | None = None  # (B,) bool
    error_norm: torch.Tensor | None = None  # (B,) ||xi* - x_target||, float64
    cosine: torch.Tensor | None = None  # (B,) cos(xi*, x_target), float64


NOT_SEARCHED = -1  # nearest_ids of a state whose success test failed on its distance alone (``score``)


def _tolerance(criterion: str, tol: float | None) -> float:
    return SUCCESS_DEFAULT_TOL[criterion] if tol is None else float(tol)


def _relative_error(states: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """||xi* - x|| / ||x|| per query, in float64 (the "nearest" criterion's test)."""
    states, targets = states.double(), targets.double()
    return (states - targets).norm(dim=1) / targets.norm(dim=1).clamp_min(1e-300)


def success_mask(
    criterion: str,
    tol: float | None,
    states: torch.Tensor,
    targets: torch.Tensor,
    nearest_ids: torch.Tensor,
    target_ids: torch.Tensor,
) -> torch.Tensor:
    """Whether each query was retrieved by ``criterion`` (module docstring); ``tol`` None = its default."""
    tol = _tolerance(criterion, tol)
    if criterion == "nearest":
        return (nearest_ids == target_ids) & (_relative_error(states, targets) <= tol)
    states, targets = states.double(), targets.double()
    if criterion == "cosine":
        return torch.nn.functional.cosine_similarity(states, targets, dim=1, eps=1e-300) >= tol
    return (states - targets).pow(2).mean(dim=1) <= tol


def score(
    model: Any,
    patterns: torch.Tensor,  # (N, d) on the run's device and dtype
    queries: torch.Tensor,  # (B, d)
    target_ids: torch.Tensor | None,  # (B,) or None: the pattern nearest to each query
    *,
    update_steps_max: int,
    eps: float,
    criterion: str | None = None,
    tol: float | None = None,
    stats: bool = True,
    separation: float | None = None,
) -> Scored:
    """Retrieve ``queries``, find their nearest patterns and (with ``criterion``) their success.

    ``separation``: a lower bound on ||x_j - x_target|| over every other stored pattern j (2 for distinct +-1
    patterns), or None. With it, a final state within ``SURE`` x separation of its target has the target as its
    nearest pattern (the triangle inequality: every other pattern is at least (1 - SURE) x separation away), so
    only the other states need the pass over all N patterns (``nearest_patterns``). With the "nearest" criterion
    a state farther than ``tol`` (relative) from its target fails whatever its nearest pattern is: it gets no pass
    either, and ``NOT_SEARCHED`` as its nearest id. At the frontier no state needs the pass: a query retrieves
    its target or one other pattern (at beta = 8 the update is that pattern to float precision).
    """
    queries = queries.to(device=patterns.device, dtype=patterns.dtype)
    if stats or getattr(model, "name", None) != "modern":
        result = model.retrieve(patterns, queries, update_steps_max=update_steps_max, eps=eps)
    else:  # the success test needs the final states only: no final pass for max_weight/k90
        result = model.retrieve(patterns, queries, update_steps_max=update_steps_max, eps=eps, stats=False)
    return judge(result, patterns, queries, target_ids, criterion=criterion, tol=tol, separation=separation)


def judge(
    result: Any,
    patterns: torch.Tensor,
    queries: torch.Tensor,
    target_ids: torch.Tensor | None,
    *,
    criterion: str | None = None,
    tol: float | None = None,
    separation: float | None = None,
) -> Scored:
    """The nearest patterns and (with ``criterion``) the success of a retrieval's final states (``score``)."""
    from hopfield_cli.core.nearest import nearest_patterns

    work = torch.promote_types(patterns.dtype, torch.float32)
    states, x = result.states.to(work), patterns.to(work)
    if target_ids is None:  # the queries' nearest patterns found in the same pass over the patterns
        ids, dist = nearest_patterns(x, torch.cat([states, queries.to(device=x.device, dtype=x.dtype)]))
        nearest_ids, distance, target_ids = ids[: len(states)], dist[: len(states)], ids[len(states) :]
    elif separation is not None:
        targets = x[target_ids.clamp_min(0)].to(device=states.device, dtype=work)
        distance = torch.linalg.vector_norm(states - targets, dim=1)
        nearest_ids = target_ids.to(states.device).clone()
        far = (distance.double() >= SURE * separation) | (target_ids.to(states.device) < 0)
        if criterion == "nearest":  # a state beyond tol of its target fails whichever pattern is nearest
            hopeless = _relative_error(states, targets) > _tolerance(criterion, tol)
            far &= ~hopeless
            nearest_ids[hopeless] = NOT_SEARCHED
        rest = far.nonzero().reshape(-1)
        if rest.numel():
            ids, dist = nearest_patterns(x, states[rest])
            nearest_ids[rest], distance[rest] = ids, dist.to(distance.dtype)
    else:
        nearest_ids, distance = nearest_patterns(x, states)
    scored = Scored(result, states, nearest_ids, distance, target_ids.to(states.device))
    if criterion is None:
        return scored
    keep = scored.target_ids >= 0
    targets = x[scored.target_ids.clamp_min(0)]
    scored.success = success_mask(criterion, tol, states, targets, nearest_ids, scored.target_ids) & keep
    scored.error_norm = (states.double() - targets.double()).norm(dim=1)  # float32 differences may overflow
    scored.cosine = torch.nn.functional.cosine_similarity(
        states.double(), targets.double(), dim=1, eps=1e-300
    )
    return scored
