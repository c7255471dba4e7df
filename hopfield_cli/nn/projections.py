"""The association core: the learned maps into the Hopfield space and out of it (Eq. 10 of Ramsauer et al.).

state xi = R W_Q^T + b_Q, keys K = Y W_K^T + b_K, values V = V_in W_V^T + b_V (connected: V = (V_in W_K^T + b_K)
W_V^T + b_V), heads as contiguous feature blocks (``hidden_size`` each for xi and K, ``pattern_size`` for V),
an optional LayerNorm per head on xi and K (``normalize_hopfield_space``), an optional learned bias row and zero
row appended to K and V, and the output map W_O.

Parameter names are hflayers' (``in_proj_weight`` stacking [W_Q; W_K; W_V] less the static ones when every
depth agrees, else ``q_proj_weight``/``k_proj_weight``/``v_proj_weight``; ``in_proj_bias`` = [b_Q; b_K; b_V];
``out_proj``; ``p_norm_weight``/``p_norm_bias``), so an hflayers ``state_dict`` loads as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Sizes:
    """Depths of the three inputs and of the Hopfield space, resolved from the constructor's arguments."""

    state: int | None  # depth of R (None: static and not yet seen)
    stored: int | None  # depth of Y
    projection: int | None  # depth of V_in
    heads: int
    hidden: int | None  # per head, xi and K (None: static, the raw depth)
    pattern: int | None  # per head, V
    output: int | None


class AssociationCore(nn.Module):
    """Projections, per-head beta and the output map; the update itself lives in ``nn.update``."""

    def __init__(
        self,
        sizes: Sizes,
        *,
        static: tuple[bool, bool, bool],  # (stored Y, state R, projection V)
        connected: bool,
        bias: bool,
        concat_bias_pattern: bool,
        add_zero_association: bool,
        normalize_hopfield_space: bool,
        normalize_hopfield_space_affine: bool,
        normalize_hopfield_space_eps: float,
        disable_out_projection: bool,
        beta: torch.Tensor,
        beta_trainable: bool,
    ) -> None:
        super().__init__()
        self.sizes = sizes
        self.stored_static, self.state_static, self.projection_static = static
        self.connected = connected
        self.add_zero_association = add_zero_association
        self.hopfield_space_eps = normalize_hopfield_space_eps
        self.normalize_hopfield_space = normalize_hopfield_space
        h, hd, pd = sizes.heads, sizes.hidden, sizes.pattern
        q_dim = k_dim = (h * hd) if hd else None
        v_dim = (h * pd) if pd else None
        self.fused = (
            not connected
            and sizes.state == sizes.stored == sizes.projection
            and q_dim == sizes.state
            and v_dim == sizes.state
            and sizes.state is not None
        )
        learned = [not self.state_static, not self.stored_static, not self.projection_static]
        if self.fused:
            rows = sum(learned) * sizes.state
            self.in_proj_weight = nn.Parameter(torch.empty(rows, sizes.state)) if rows else None
        else:
            self.in_proj_weight = None
            if learned[0]:
                self.q_proj_weight = nn.Parameter(torch.empty(q_dim, sizes.state))
            if learned[1]:
                self.k_proj_weight = nn.Parameter(torch.empty(k_dim, sizes.stored))
            if learned[2]:
                v_in = k_dim if connected else sizes.projection
                self.v_proj_weight = nn.Parameter(torch.empty(v_dim, v_in))
        self.in_proj_bias = (
            nn.Parameter(torch.zeros(2 * q_dim + v_dim))
            if bias and any(learned) and q_dim and v_dim
            else None
        )
        if normalize_hopfield_space and normalize_hopfield_space_affine:
            self.p_norm_weight = nn.Parameter(torch.ones(hd))
            self.p_norm_bias = nn.Parameter(torch.zeros(hd))
        else:
            self.p_norm_weight = self.p_norm_bias = None
        if concat_bias_pattern:
            self.bias_k = nn.Parameter(torch.zeros(1, 1, q_dim))
            self.bias_v = nn.Parameter(torch.zeros(1, 1, v_dim))
        else:
            self.bias_k = self.bias_v = None
        if disable_out_projection:
            self.out_proj = None
        else:
            self.out_proj = nn.Linear(v_dim, sizes.output, bias=bias)
        if beta_trainable:
            self.log_beta = nn.Parameter(beta.log())
        else:
            self.register_buffer("fixed_beta", beta, persistent=False)
        # one fixed beta for every head: the fast path hands it to SDPA as its scale, sparing a pass over xi
        # (about 5% of a training-size forward on CPU, benchmarks/bench_layers.py)
        uniform = not beta_trainable and bool((beta == beta[0]).all())
        self.uniform_beta: float | None = float(beta[0]) if uniform else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform projections (per block), zero biases: the initialisation of torch's attention."""
        for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
            weight = getattr(self, name, None)
            if weight is not None:
                nn.init.xavier_uniform_(weight)
        if self.in_proj_bias is not None:
            nn.init.zeros_(self.in_proj_bias)
        if self.out_proj is not None:
            nn.init.xavier_uniform_(self.out_proj.weight)
            if self.out_proj.bias is not None:
                nn.init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            nn.init.xavier_normal_(self.bias_k)
            nn.init.xavier_normal_(self.bias_v)

    @property
    def beta(self) -> torch.Tensor:
        """Per-head inverse temperature (H,): fixed, or exp of a learned log (so it stays positive)."""
        return self.log_beta.exp() if hasattr(self, "log_beta") else self.fixed_beta

    def _weights(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        if not self.fused:
            return (
                getattr(self, "q_proj_weight", None),
                getattr(self, "k_proj_weight", None),
                getattr(self, "v_proj_weight", None),
            )
        blocks = (
            iter(self.in_proj_weight.chunk(3 - self._n_static(), dim=0))
            if self.in_proj_weight is not None
            else iter(())
        )
        return (
            None if self.state_static else next(blocks),
            None if self.stored_static else next(blocks),
            None if self.projection_static else next(blocks),
        )

    def _n_static(self) -> int:
        return int(self.state_static) + int(self.stored_static) + int(self.projection_static)

    def _biases(self) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        if self.in_proj_bias is None:
            return None, None, None
        qk = self.sizes.heads * self.sizes.hidden
        return self.in_proj_bias[:qk], self.in_proj_bias[qk : 2 * qk], self.in_proj_bias[2 * qk :]

    def project(
        self, stored: torch.Tensor, state: torch.Tensor, projection: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, S, ·), (B, L, ·), (B, S, ·) -> xi (B, H, L, hd), K (B, H, S', hd), V (B, H, S', pd).

        S' = S plus the bias row and the zero row when asked. A static input is shared by every head.
        """
        w_q, w_k, w_v = self._weights()
        b_q, b_k, b_v = self._biases()
        h = self.sizes.heads
        xi = state if w_q is None else F.linear(state, w_q, b_q)
        keys = stored if w_k is None else F.linear(stored, w_k, b_k)
        if w_v is None:
            values = projection
        elif self.connected:
            values = F.linear(F.linear(projection, w_k, b_k), w_v, b_v)
        else:
            values = F.linear(projection, w_v, b_v)
        if self.bias_k is not None:
            batch = keys.shape[0]
            keys = torch.cat([keys, self.bias_k.expand(batch, 1, -1).to(keys.dtype)], dim=1)
            values = torch.cat([values, self.bias_v.expand(batch, 1, -1).to(values.dtype)], dim=1)
        xi = _heads(xi, h, shared=w_q is None)
        keys = _heads(keys, h, shared=w_k is None)
        values = _heads(values, h, shared=w_v is None)
        if self.normalize_hopfield_space:
            xi = self._space_norm(xi)
            keys = self._space_norm(keys)
        if self.add_zero_association:
            keys = torch.cat([keys, keys.new_zeros(*keys.shape[:2], 1, keys.shape[-1])], dim=2)
            values = torch.cat([values, values.new_zeros(*values.shape[:2], 1, values.shape[-1])], dim=2)
        return xi, keys, values

    def extra_keys(self) -> int:
        """Columns appended to the stored patterns (bias row, zero row)."""
        return int(self.bias_k is not None) + int(self.add_zero_association)

    def _space_norm(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), self.p_norm_weight, self.p_norm_bias, self.hopfield_space_eps)

    def output(self, retrieved: torch.Tensor) -> torch.Tensor:
        """(B, H, L, pd) -> heads concatenated (B, L, H pd) -> W_O (B, L, output_size)."""
        b, h, length, pd = retrieved.shape
        out = retrieved.transpose(1, 2).reshape(b, length, h * pd)
        return out if self.out_proj is None else self.out_proj(out)


def _heads(x: torch.Tensor, heads: int, *, shared: bool) -> torch.Tensor:
    """(B, T, H * e) -> (B, H, T, e); a static input (``shared``) is seen whole by every head."""
    if shared:
        return x.unsqueeze(1).expand(x.shape[0], heads, *x.shape[1:])
    b, t, width = x.shape
    return x.view(b, t, heads, width // heads).transpose(1, 2)


def beta_tensor(
    scaling: float | torch.Tensor | list[float] | None, heads: int, hidden: int | None
) -> torch.Tensor:
    """Per-head beta (H,) float64 from a float, a sequence or a tensor of H values (defect 1: per head, whole
    block); None = 1/sqrt(hidden_size) as in hflayers (1 with no Hopfield space)."""
    if scaling is None:
        value = 1.0 / math.sqrt(hidden) if hidden else 1.0
        return torch.full((heads,), value, dtype=torch.float64)
    beta = torch.as_tensor(scaling, dtype=torch.float64).detach().clone().flatten()
    if beta.numel() == 1:
        beta = beta.expand(heads).clone()
    if beta.numel() != heads:
        raise ValueError(f"scaling: needs one value or one per head ({heads}), got {beta.numel()}")
    if not bool(torch.isfinite(beta).all()) or not bool((beta > 0).all()):
        raise ValueError(f"scaling: every beta must be finite and > 0, got {beta.tolist()}")
    return beta
