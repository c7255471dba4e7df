"""The Python API of `hopfield`: ``import hopfield as hf`` (or ``import hopfield_cli as hf``).

- ``hf.retrieve(patterns, queries, beta=8)``: iterate the update (Eq. 3) to convergence with any family;
  NumPy arrays in give NumPy arrays out, torch tensors give tensors (on their device).
- ``hf.update(patterns, states, beta)`` and ``hf.energy(patterns, states, beta)``: one update (Eq. 3) and the
  energy (Eq. 2), differentiable: gradients flow to the patterns, the states and a tensor beta.
- ``hf.run("retrieve", ["beta=8"])``: any command as from the shell (overrides, ``-m`` sweeps), its tables back
  as DataFrames (``RunResult.tables``) with its folder and summary; a usage error raises ``HopfieldError``
  with the one line the shell would print.
- ``hf.Hopfield``, ``hf.HopfieldPooling``, ``hf.HopfieldLayer``: the layers (``hopfield_cli.nn``).

Patterns are rows: ``patterns`` is (N, d) (the paper's X^T), ``queries``/``states`` (B, d) or (d,).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hopfield_cli.nn import Hopfield, HopfieldLayer, HopfieldPooling

__all__ = [
    "Hopfield",
    "HopfieldError",
    "HopfieldLayer",
    "HopfieldPooling",
    "Retrieval",
    "RunResult",
    "energy",
    "retrieve",
    "run",
    "update",
]

Array = np.ndarray | torch.Tensor


class HopfieldError(ValueError):
    """A usage error of ``run`` (or of the arguments of the other functions): the shell's one line."""


def _tensor(value: Any, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        try:
            tensor = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError) as exc:
            raise HopfieldError(f"{name}: must be a NumPy array or a torch tensor ({exc})") from None
    if not (
        tensor.is_floating_point() or tensor.dtype in (torch.int8, torch.int16, torch.int32, torch.int64)
    ):
        raise HopfieldError(f"{name}: must hold numbers, got {tensor.dtype}")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    return tensor if dtype is None else tensor.to(dtype)


def _rows(tensor: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    if tensor.dim() == 1:
        return tensor[None], True
    if tensor.dim() != 2:
        raise HopfieldError(f"{name}: must be (B, d) or (d,), got shape {tuple(tensor.shape)}")
    return tensor, False


def _check_patterns(patterns: torch.Tensor, states: torch.Tensor) -> None:
    if patterns.dim() != 2:
        raise HopfieldError(f"patterns: must be (N, d), got shape {tuple(patterns.shape)}")
    if patterns.shape[1] != states.shape[1]:
        raise HopfieldError(
            f"queries: dimension {states.shape[1]} differs from the patterns' {patterns.shape[1]}"
        )


def _beta(beta: float | torch.Tensor) -> float | torch.Tensor:
    value = float(beta.detach()) if isinstance(beta, torch.Tensor) else float(beta)
    if not (value > 0 and math.isfinite(value)):
        raise HopfieldError(f"beta: must be a positive finite number, got {value}")
    return beta


def update(patterns: Array, states: Array, beta: float | torch.Tensor = 8.0) -> Array:
    """One update of Eq. 3, xi_new = X softmax(beta X^T xi), for every state (row): same shape as ``states``.

    Differentiable (the whole (B, N) score matrix is formed: for millions of patterns without gradients use
    ``retrieve(..., update_steps_max=1)``, which streams).
    """
    x, xi = _tensor(patterns, "patterns"), _tensor(states, "states")
    xi2, single = _rows(xi.to(x.dtype), "states")
    _check_patterns(x, xi2)
    out = torch.softmax(_beta(beta) * xi2 @ x.T, dim=-1) @ x
    out = out[0] if single else out
    return out.detach().numpy() if not isinstance(states, torch.Tensor) else out


def energy(patterns: Array, states: Array, beta: float | torch.Tensor = 8.0) -> Array:
    """Eq. 2, E(xi) = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 log N + 1/2 M^2, per state; differentiable."""
    x, xi = _tensor(patterns, "patterns"), _tensor(states, "states")
    xi2, single = _rows(xi.to(x.dtype), "states")
    _check_patterns(x, xi2)
    b = _beta(beta)
    lse = torch.logsumexp(b * xi2 @ x.T, dim=-1) / b
    big_m = torch.linalg.vector_norm(x, dim=1).max()
    n = torch.tensor(float(x.shape[0]), dtype=x.dtype)
    out = -lse + 0.5 * (xi2 * xi2).sum(-1) + torch.log(n) / b + 0.5 * big_m**2
    out = out[0] if single else out
    return out.detach().numpy() if not isinstance(states, torch.Tensor) else out


@dataclass
class Retrieval:
    """The result of ``retrieve``: final states, updates made, energies per step, convergence, and for the
    modern family the largest weight and k90 (the paper's k) of each final state."""

    states: Array
    steps: Array
    energies: Array
    converged: Array
    max_weight: Array | None = None
    k90: Array | None = None


def retrieve(
    patterns: Array,
    queries: Array,
    beta: float = 8.0,
    *,
    model: str = "modern",
    update_steps_max: int = 100,
    eps: float = 1e-5,
    device: str = "auto",
    **params: Any,
) -> Retrieval:
    """Iterate ``model``'s update from each query until ||xi_{t+1} - xi_t|| <= eps or ``update_steps_max``.

    ``model``: modern (default), classical, dense, exponential, sparse; ``params`` are the family's own
    (``n=4`` for dense, ``alpha=1.5`` for sparse, ``update_rule="sync"`` for classical). The computation runs in
    the patterns' floating dtype (float32 for integers) on ``device`` (auto: CUDA when present, else where the
    patterns are), streaming over the patterns in bounded memory; no gradients (use ``update`` for those).
    """
    from hopfield_cli.core.device import resolve_device
    from hopfield_cli.core.errors import CoreError
    from hopfield_cli.core.models import BINARY_MODELS, build_model

    x, q = _tensor(patterns, "patterns"), _tensor(queries, "queries")
    q2, single = _rows(q.to(x.dtype), "queries")
    _check_patterns(x, q2)
    if device == "auto" and isinstance(patterns, torch.Tensor):
        target = x.device
    else:
        try:
            target = resolve_device(device)
        except ValueError as exc:
            raise HopfieldError(f"device: {exc}") from None
    if not (isinstance(update_steps_max, int) and update_steps_max >= 0):
        raise HopfieldError(f"update_steps_max: must be an integer >= 0, got {update_steps_max!r}")
    if not eps > 0:
        raise HopfieldError(f"eps: must be > 0, got {eps!r}")
    if model not in BINARY_MODELS:
        params = {"beta": float(_beta(beta)), **params}
    try:
        family = build_model(model, **params)
        with torch.no_grad():
            result = family.retrieve(
                x.detach().to(target), q2.detach().to(target), update_steps_max=update_steps_max, eps=eps
            )
    except CoreError as exc:
        raise HopfieldError(f"{exc.param}: {exc.message}") from None
    numpy_out = not isinstance(queries, torch.Tensor)

    def out(value: torch.Tensor | None) -> Array | None:
        if value is None:
            return None
        value = value[0] if single else value
        return value.cpu().numpy() if numpy_out else value

    return Retrieval(
        states=out(result.states.to(x.dtype)),
        steps=out(result.steps),
        energies=out(result.energies),
        converged=out(result.converged),
        max_weight=out(result.max_weight),
        k90=out(result.k90),
    )


@dataclass
class RunResult:
    """A command's run folder, its tables (file stem -> DataFrame) and its ``summary.json`` (if any)."""

    folder: Path
    tables: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | list[Any] | None = None

    def __getitem__(self, stem: str) -> Any:
        return self.tables[stem]


def _default_folder(command: str, multirun: bool) -> Path:
    now = time.time()
    stamp = time.strftime("%Y-%m-%d/%H-%M-%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}"
    return Path("multirun" if multirun else "outputs") / f"{stamp}-{command.replace('-', '_')}"


def run(
    command: str, overrides: list[str] | tuple[str, ...] = (), *, folder: str | Path | None = None
) -> RunResult:
    """Run ``hopfield <command> <overrides>`` in this process and read its tables back.

    ``folder``: the run folder (a sweep's folder with ``-m``); by default a new one under ``outputs/`` (or
    ``multirun/``), as the shell would make. What the run prints goes to the console as usual.
    """
    import pandas as pd

    from hopfield_cli.app.commands import COMMANDS

    if command not in COMMANDS:
        raise HopfieldError(f"command: unknown '{command}'; allowed: {', '.join(COMMANDS)}")
    args = [str(a) for a in overrides]
    multirun = "-m" in args or "--multirun" in args
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    given = next((a.split("=", 1)[1] for a in args if a.startswith(f"{key}=")), None)
    target = (
        Path(given) if given else Path(folder) if folder is not None else _default_folder(command, multirun)
    )
    if given is None:
        args.append(f"{key}={target}")
    code = _launch(command, args)
    if code:
        raise HopfieldError(code)
    tables = {p.stem: pd.read_parquet(p) for p in sorted(target.glob("*.parquet"))}
    summary_file = target / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else None
    return RunResult(target, tables, summary)


def _launch(command: str, args: list[str]) -> str | None:
    """Run the command through the shell's own entry point; None on success, else its error line(s)."""
    from hopfield_cli.app.run.launch import launch

    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            launch(command, args)
    except SystemExit as stop:
        if stop.code not in (0, None):
            text = errors.getvalue().strip() or f"hopfield {command} exited with status {stop.code}"
            return text.removeprefix("error: ")
    return None
