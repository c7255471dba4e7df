"""Pieces every experiment shares: building patterns from a config, success criteria, devices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from hopfield_cli.core.device import resolve_device, resolve_dtype
from hopfield_cli.errors import UsageError

# Success criteria (see README "Success criteria"); each value is the default tolerance.
SUCCESS_DEFAULT_TOL = {"nearest": 0.25, "cosine": 0.9, "mse": 0.01}


@dataclass
class PatternSet:
    """Stored patterns with what is known of where they came from."""

    patterns: torch.Tensor  # (N, d) float32 on CPU
    metadata: dict[str, Any]

    @property
    def image_side(self) -> int | None:
        side = self.metadata.get("image_side")
        return int(side) if side not in (None, "", "null") else None


def device_and_dtype(cfg: Any) -> tuple[torch.device, torch.dtype]:
    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise UsageError("device", str(exc)) from None
    try:
        dtype = resolve_dtype(cfg.dtype, device)
    except ValueError as exc:
        raise UsageError("dtype", str(exc)) from None
    return device, dtype


def build_patterns(cfg: Any, generator: torch.Generator) -> PatternSet:
    """Make or load the stored patterns described by ``cfg.patterns`` (+ num_patterns, dim, normalise).

    For ``file``/``images`` sources N and d come from the data: ``num_patterns``/``dim`` do not apply.
    """
    from hopfield_cli.data import patterns as sources

    from_disk = cfg.patterns.source in ("file", "images")
    metadata: dict[str, Any] = {}
    data = sources.make_patterns(
        dict(cfg.patterns),
        None if from_disk else cfg.num_patterns,
        None if from_disk else cfg.dim,
        generator,
        info=metadata,
    )
    normalise = getattr(cfg, "normalise", "none")
    if normalise != "none":
        data = sources.normalise(data, normalise)
    metadata["normalisation"] = normalise
    if getattr(cfg, "binarise", False):
        data = sources.binarise(data)
        metadata["binarised"] = True
    return PatternSet(data.to(torch.float32).contiguous(), metadata)


def load_or_build_patterns(cfg: Any, generator: torch.Generator) -> PatternSet:
    """The patterns of ``cfg.memory`` (a file from `hopfield store`, as saved) or else ``build_patterns``."""
    if cfg.memory is not None:
        from hopfield_cli.data.memory_file import load_memory

        patterns, metadata = load_memory(cfg.memory, field="memory")
        return PatternSet(patterns.to(torch.float32).contiguous(), dict(metadata))
    return build_patterns(cfg, generator)


def success_mask(
    criterion: str,
    tol: float | None,
    states: torch.Tensor,  # (B, d)
    targets: torch.Tensor,  # (B, d) the target patterns
    retrieved_ids: torch.Tensor,  # (B,)
    target_ids: torch.Tensor,  # (B,)
) -> torch.Tensor:
    """Whether each query was retrieved, by the chosen criterion.

    - nearest (default): the nearest stored pattern is the target AND ||xi* - x|| <= tol ||x||
      (tol 0.25: for +-1 patterns a relative error of 2 sqrt(f) means a fraction f <= 1.56% of wrong
      components, the error level of Amit et al.'s 0.138 d capacity).
    - cosine: cos(xi*, x) >= tol (default 0.9, as in Hopfield-Fenchel-Young networks).
    - mse: mean squared error per component <= tol (default 0.01; Universal Hopfield Networks threshold
      the summed error).
    """
    tol = SUCCESS_DEFAULT_TOL[criterion] if tol is None else float(tol)
    states = states.double()
    targets = targets.double()
    if criterion == "nearest":
        rel = (states - targets).norm(dim=1) / targets.norm(dim=1).clamp_min(1e-300)
        return (retrieved_ids == target_ids) & (rel <= tol)
    if criterion == "cosine":
        return torch.nn.functional.cosine_similarity(states, targets, dim=1, eps=1e-300) >= tol
    if criterion == "mse":
        return (states - targets).pow(2).mean(dim=1) <= tol
    raise UsageError("success", f"must be one of {', '.join(SUCCESS_DEFAULT_TOL)}; got {criterion!r}")


# Families whose update has an inverse temperature; classical and dense do not use beta.
BETA_MODELS = frozenset({"modern", "exponential", "sparse"})


def make_model(name: str, beta: float | None, model_cfg: Any, seed: int, memory_budget: int | None) -> Any:
    """A core model of family ``name`` with inverse temperature ``beta`` (ignored where the family has none).

    ``model_cfg`` is the ``model`` config group (update_rule, n, rectified, alpha); ``seed`` fixes the
    asynchronous update order of the binary families. Shared by ``retrieve`` (one model) and
    ``capacity-sweep`` (several models and betas side by side).
    """
    from hopfield_cli.core.models import build_model

    params: dict[str, Any] = {}
    if name == "modern":
        params = {"beta": float(beta), "memory_budget": memory_budget}
    elif name == "classical":
        params = {"update": model_cfg.update_rule, "seed": int(seed)}
    elif name == "dense":
        params = {"n": int(model_cfg.n), "rectified": bool(model_cfg.rectified), "seed": int(seed)}
    elif name == "exponential":
        params = {"beta": float(beta), "seed": int(seed)}
    elif name == "sparse":
        params = {"beta": float(beta), "alpha": float(model_cfg.alpha)}
    return build_model(name, **params)


# beta * (gap between the two largest scores) beyond this: the runner-up weight exp(-gap) is below float32's
# resolution next to 1, so the softmax is one-hot and the modern update is a nearest-pattern lookup.
ONE_HOT_SCORE_GAP = 17.0


def meaning_warnings(patterns: torch.Tensor, betas: list[float] | None = None) -> list[str]:
    """Where the results of a run lose meaning, one line each (the run goes on; see ``warn``).

    Duplicated patterns make retrieval ambiguous (the nearest pattern is a tie); N = 1 leaves nothing to tell
    apart; d = 1 patterns differ only in sign and scale; a beta whose smallest nonzero score gap is beyond
    ONE_HOT_SCORE_GAP makes every softmax one-hot in float32.
    """
    n, d = patterns.shape
    lines = []
    if n == 1:
        lines.append("num_patterns: only one stored pattern; every query retrieves it, success says nothing")
    if d == 1:
        lines.append("dim: d = 1; patterns differ only in sign and scale, separation is degenerate")
    unique = torch.unique(patterns, dim=0).shape[0] if n > 1 else n
    if unique < n:
        lines.append(
            f"patterns: {n - unique} of {n} stored patterns duplicate another; retrieving them is ambiguous "
            "(the nearest pattern is a tie)"
        )
    if betas:
        x = patterns.double()
        norms_sq = x.pow(2).sum(dim=1)
        sample = x[: min(n, 256)]
        scores = sample @ x.T  # (S, N): gaps between a pattern's own score and the others'
        gaps = (norms_sq[: sample.shape[0], None] - scores).abs()
        gaps = gaps[gaps > 0]
        if gaps.numel():
            beta_max = max(betas)
            if beta_max * float(gaps.min()) > ONE_HOT_SCORE_GAP * 1e3:
                lines.append(
                    f"beta: beta = {beta_max:g} makes every softmax one-hot in float32 (smallest score gap "
                    f"{float(gaps.min()):.3g}); the modern network acts as a nearest-pattern lookup"
                )
    return lines


def warn(lines: list[str]) -> None:
    """Print each warning as one line on stderr and keep it in the run's log."""
    import logging
    import sys

    log = logging.getLogger("hopfield_cli")
    for line in lines:
        print(f"warning: {line}", file=sys.stderr)
        log.info("warning: %s", line)
