"""The Hopfield update in the projected space (Eq. 3 / Eq. 10 of Ramsauer et al. 2021), per head.

Shapes: state xi (B, H, L, hd), keys K (B, H, S, hd), values V (B, H, S, pd), beta (H,), an additive mask
broadcastable to (B, H, L, S).

- ``associate`` (the explicit-probability path): p = softmax(beta xi K^T + mask); while a head is active its
  state is updated, xi <- p K (Eq. 3 with the projected stored patterns as both keys and values), and p is
  computed again. ``update_steps_max = k`` means at most k state updates, so at most k + 1 softmax
  applications, as in hflayers (its "0" is one softmax); ``None`` = until eps is met, capped at
  ``CONVERGENCE_CAP`` updates (hflayers loops for ever where rounding keeps ||p_t - p_{t-1}|| above eps, as
  float32 does at eps = 1e-10). With ``update_steps_eps = e``
  a head stops once max over the batch of ||p_t - p_{t-1}||_F <= e (the association, as hflayers tests,
  not the state); ``None`` = a fixed number of updates. Returns the final p (the association matrix) and xi.
- ``retrieve_fast``: the same fixed number of updates and the final association on
  ``torch.nn.functional.scaled_dot_product_attention`` (one fused kernel per application, no (L, S) matrix
  kept for backward on CPU/CUDA flash kernels). Used for training; tested equal to ``associate``.
- ``energy``: Eq. 2 per head and state, E = -lse(beta, K xi) + 1/2 xi^T xi + 1/beta log N + 1/2 M^2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

CONVERGENCE_CAP = 1_000


def _scaled(xi: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    return xi * beta.view(1, -1, 1, 1).to(xi.dtype)


def association_probabilities(
    xi: torch.Tensor, keys: torch.Tensor, beta: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """p = softmax(beta xi K^T + mask) over the stored patterns, (B, H, L, S)."""
    scores = _scaled(xi, beta) @ keys.transpose(-2, -1)
    if mask is not None:
        scores = scores + mask
    return torch.softmax(scores, dim=-1)


def associate(
    xi: torch.Tensor,
    keys: torch.Tensor,
    beta: torch.Tensor,
    mask: torch.Tensor | None,
    update_steps_max: int | None,
    update_steps_eps: float | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Iterate Eq. 3 per head; return (p, xi, softmax applications per head (H,) int64).

    A head that stops keeps its p and xi while the others go on (``torch.where``, so gradients flow through
    exactly the updates that were made).
    """
    heads = xi.shape[1]
    p = association_probabilities(xi, keys, beta, mask)
    counts = torch.ones(heads, dtype=torch.int64)
    active = torch.ones(heads, dtype=torch.bool, device=xi.device)
    previous: torch.Tensor | None = None
    step = 0
    limit = CONVERGENCE_CAP if update_steps_max is None else update_steps_max
    while step < limit:
        if previous is not None and update_steps_eps is not None:
            active = active & (_change(p, previous) > update_steps_eps)
            if not bool(active.any()):
                break
        previous = p
        keep = active.view(1, -1, 1, 1)
        xi = torch.where(keep, p @ keys, xi)
        p = torch.where(keep, association_probabilities(xi, keys, beta, mask), p)
        counts += active.cpu().long()
        step += 1
    return p, xi, counts


def _change(p: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """max over the batch of ||p_t - p_{t-1}||_F over (L, S), per head: (H,)."""
    return (p - previous).flatten(2).norm(dim=-1).amax(dim=0)


def retrieve_fast(
    xi: torch.Tensor,
    keys: torch.Tensor,
    values: torch.Tensor,
    beta: torch.Tensor | float,
    mask: torch.Tensor | None,
    update_steps: int,
    dropout_p: float = 0.0,
) -> torch.Tensor:
    """``update_steps`` state updates then the final association, on scaled_dot_product_attention: (B, H, L, pd).

    A float beta (the same for every head) is the kernel's scale; a tensor (H,) is folded into the state per
    head and the kernel's own scale is 1.
    """
    attn_mask = None if mask is None else mask.to(xi.dtype)
    if isinstance(beta, float):
        scale, scaled = beta, (lambda x: x)
    else:
        scale, scaled = 1.0, (lambda x: _scaled(x, beta))
    for _ in range(update_steps):
        xi = F.scaled_dot_product_attention(scaled(xi), keys, keys, attn_mask=attn_mask, scale=scale)
    # torch's fused kernels want one head width for xi, K and V; where pattern_size != hidden_size it falls
    # back to its math kernel (on CPU 4x slower than the fused one, slower than hflayers). Zero columns change
    # no score and no retrieved value, so pad the narrower side and cut the result back.
    xi, width = scaled(xi), values.shape[-1]
    if xi.shape[-1] > width:
        values = F.pad(values, (0, xi.shape[-1] - width))
    elif xi.shape[-1] < width:
        pad = (0, width - xi.shape[-1])
        xi, keys = F.pad(xi, pad), F.pad(keys, pad)
    out = F.scaled_dot_product_attention(
        xi, keys, values, attn_mask=attn_mask, dropout_p=dropout_p, scale=scale
    )
    return out if out.shape[-1] == width else out[..., :width]


def energy(
    xi: torch.Tensor, keys: torch.Tensor, beta: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """Eq. 2 per head and state, (B, H, L); N and M count only the stored patterns a state may attend to."""
    b = beta.view(1, -1, 1).to(xi.dtype)
    scores = _scaled(xi, beta) @ keys.transpose(-2, -1)  # (B, H, L, S)
    norms = keys.norm(dim=-1)[:, :, None, :].expand_as(scores)  # (B, H, L, S)
    if mask is not None:
        allowed = torch.isfinite(mask.expand_as(scores)) if mask.dtype.is_floating_point else mask
        scores = scores + mask
        norms = norms.masked_fill(~allowed, 0.0)
        count = allowed.sum(dim=-1).to(xi.dtype)
    else:
        count = torch.full(scores.shape[:-1], float(scores.shape[-1]), dtype=xi.dtype, device=xi.device)
    lse = torch.logsumexp(scores, dim=-1) / b
    m_max = norms.amax(dim=-1)
    return -lse + 0.5 * (xi * xi).sum(-1) + torch.log(count) / b + 0.5 * m_max**2


def default_beta(hidden_size: int | None) -> float:
    """hflayers' default scaling: 1/sqrt(hidden_size) (the transformer's), 1 without a Hopfield space."""
    return 1.0 / math.sqrt(hidden_size) if hidden_size else 1.0
