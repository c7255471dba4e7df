"""``Hopfield``: the paper's layer for association, memory and attention (Eq. 10 of Ramsauer et al. 2021).

    out = W_O softmax(beta xi K^T) V,  xi = R W_Q (updated ``update_steps_max`` times by Eq. 3),
    K = Y W_K, V = Y' W_V

with R the state (query) patterns, Y the stored (key) patterns and Y' the pattern projection (values), each
first LayerNorm-ed. The arguments are hflayers' names; where hflayers is odd, this module's convention is:

- ``update_steps_max = k``: at most k updates of the state, then the final association: k + 1 softmax
  applications (hflayers' count, its default 0 being one softmax). ``None`` = until convergence.
- ``update_steps_eps``: a head stops when max over the batch of ||p_t - p_{t-1}||_F <= eps, on the association
  p as in hflayers. ``None`` (or ``update_steps_max == 0``) = a fixed number of updates, run on
  ``scaled_dot_product_attention`` (the fast path); hflayers demands eps > 0, here 0 is allowed too.
- masks: True / non-zero = ignore (``nn.masks``); integer masks work (hflayers crashes on uint8).
- ``scaling`` (alias ``beta``): a float, or one value per head applied to that head's whole block (hflayers
  tiles a tensor across features, defect 1); ``scaling_trainable=True`` learns log beta per head.
- ``concat_bias_pattern`` appends a learned key/value row (a no-op in hflayers, defect 2); an unknown
  ``association_activation`` is an error (hflayers ignores it, defect 8); ``association_activation`` is applied
  to the layer's output.
Every fixture of the official module is reproduced to <= 1e-10 in float64 (tests/nn/test_fixtures.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hopfield_cli.nn import update
from hopfield_cli.nn.masks import additive_mask
from hopfield_cli.nn.projections import AssociationCore, Sizes, beta_tensor

ACTIVATIONS = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": nn.functional.gelu,
    "silu": nn.functional.silu,
    "elu": nn.functional.elu,
    "selu": torch.selu,
    "softplus": nn.functional.softplus,
}

Inputs = torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class Hopfield(nn.Module):
    """Association of state patterns R with stored patterns Y, retrieving pattern projections Y' (Eq. 10).

    ``forward(input)``: ``input`` is one tensor (Y = R = Y', self-association) or the tuple
    (stored_pattern, state_pattern, pattern_projection), each (B, T, ·) with ``batch_first`` (else (T, B, ·)).
    Returns (B, L, output_size). ``association(...)`` gives the final p (B, H, L, S), ``energy(...)`` Eq. 2 per
    head (B, H, L), ``projected_pattern_matrix(...)`` the values (B, H, S, pattern_size).
    """

    def __init__(
        self,
        input_size: int | None = None,
        hidden_size: int | None = None,
        output_size: int | None = None,
        pattern_size: int | None = None,
        num_heads: int = 1,
        scaling: float | Sequence[float] | torch.Tensor | None = None,
        update_steps_max: int | None = 0,
        update_steps_eps: float | None = 1e-4,
        normalize_stored_pattern: bool = True,
        normalize_stored_pattern_affine: bool = True,
        normalize_stored_pattern_eps: float = 1e-5,
        normalize_state_pattern: bool = True,
        normalize_state_pattern_affine: bool = True,
        normalize_state_pattern_eps: float = 1e-5,
        normalize_pattern_projection: bool = True,
        normalize_pattern_projection_affine: bool = True,
        normalize_pattern_projection_eps: float = 1e-5,
        normalize_hopfield_space: bool = False,
        normalize_hopfield_space_affine: bool = False,
        normalize_hopfield_space_eps: float = 1e-5,
        stored_pattern_as_static: bool = False,
        state_pattern_as_static: bool = False,
        pattern_projection_as_static: bool = False,
        pattern_projection_as_connected: bool = False,
        stored_pattern_size: int | None = None,
        pattern_projection_size: int | None = None,
        batch_first: bool = True,
        association_activation: str | None = None,
        dropout: float = 0.0,
        input_bias: bool = True,
        concat_bias_pattern: bool = False,
        add_zero_association: bool = False,
        disable_out_projection: bool = False,
        scaling_trainable: bool = False,
        beta: float | Sequence[float] | torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        if beta is not None:
            if scaling is not None:
                raise ValueError("beta: is another name for scaling; give one of them")
            scaling = beta
        static = (stored_pattern_as_static, state_pattern_as_static, pattern_projection_as_static)
        _check_options(
            num_heads, update_steps_max, update_steps_eps, dropout, association_activation, input_size, static
        )
        if pattern_projection_as_connected and stored_pattern_as_static:
            raise ValueError(
                "pattern_projection_as_connected: needs learned stored patterns (stored_pattern_as_static=False)"
            )
        sizes = _sizes(
            input_size, hidden_size, output_size, pattern_size, num_heads, stored_pattern_size,
            pattern_projection_size, static, disable_out_projection,
        )  # fmt: skip
        if concat_bias_pattern and (sizes.hidden is None or sizes.pattern is None):
            raise ValueError("concat_bias_pattern: needs input_size (the bias row's width)")
        self.input_size, self.output_size = input_size, sizes.output
        self.hidden_size, self.pattern_size, self.num_heads = sizes.hidden, sizes.pattern, num_heads
        self.update_steps_max, self.update_steps_eps = update_steps_max, update_steps_eps
        self.batch_first = batch_first
        self.dropout = dropout
        self.association_activation = association_activation
        self.static_execution = all(static) and disable_out_projection and not normalize_hopfield_space
        self.norm_stored_pattern = _norm(
            normalize_stored_pattern,
            normalize_stored_pattern_affine,
            normalize_stored_pattern_eps,
            sizes.stored,
        )
        self.norm_state_pattern = _norm(
            normalize_state_pattern, normalize_state_pattern_affine, normalize_state_pattern_eps, sizes.state
        )
        self.norm_pattern_projection = _norm(normalize_pattern_projection, normalize_pattern_projection_affine, normalize_pattern_projection_eps, sizes.projection)  # fmt: skip
        self.association_core = AssociationCore(
            sizes,
            static=static,
            connected=pattern_projection_as_connected,
            bias=input_bias,
            concat_bias_pattern=concat_bias_pattern,
            add_zero_association=add_zero_association,
            normalize_hopfield_space=normalize_hopfield_space,
            normalize_hopfield_space_affine=normalize_hopfield_space_affine,
            normalize_hopfield_space_eps=normalize_hopfield_space_eps,
            disable_out_projection=disable_out_projection,
            beta=beta_tensor(scaling, num_heads, sizes.hidden),
            beta_trainable=scaling_trainable,
        )

    @classmethod
    def pure_memory(
        cls,
        scaling: float = 8.0,
        update_steps_max: int | None = 0,
        update_steps_eps: float | None = 1e-4,
        batch_first: bool = True,
    ) -> Hopfield:
        """Associative memory as in the paper's blog: no parameters, no norms, out = softmax(beta R Y^T) Y'.

        Call it with (stored, state, projection), e.g. ``(Y, R, Y)`` to retrieve the stored patterns.
        """
        return cls(
            scaling=scaling,
            update_steps_max=update_steps_max,
            update_steps_eps=update_steps_eps,
            stored_pattern_as_static=True,
            state_pattern_as_static=True,
            pattern_projection_as_static=True,
            normalize_stored_pattern=False,
            normalize_stored_pattern_affine=False,
            normalize_state_pattern=False,
            normalize_state_pattern_affine=False,
            normalize_pattern_projection=False,
            normalize_pattern_projection_affine=False,
            disable_out_projection=True,
            batch_first=batch_first,
        )

    @property
    def scaling(self) -> torch.Tensor:
        """beta per head (H,)."""
        return self.association_core.beta

    @property
    def normalize_hopfield_space(self) -> bool:
        return self.association_core.normalize_hopfield_space

    @property
    def normalize_hopfield_space_affine(self) -> bool:
        return self.association_core.p_norm_weight is not None

    # --- the forward pass -------------------------------------------------------------------------------
    def forward(
        self,
        input: Inputs,  # noqa: A002 - hflayers' name
        stored_pattern_padding_mask: torch.Tensor | None = None,
        association_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        xi, keys, values, mask = self._prepare(input, stored_pattern_padding_mask, association_mask)
        dropout = self.dropout if self.training else 0.0
        if self._fixed_count():
            uniform = self.association_core.uniform_beta
            beta = self.scaling if uniform is None else uniform
            retrieved = update.retrieve_fast(xi, keys, values, beta, mask, self.update_steps_max, dropout)
        else:
            p, _, _ = update.associate(
                xi, keys, self.scaling, mask, self.update_steps_max, self.update_steps_eps
            )
            if dropout:
                p = nn.functional.dropout(p, dropout)
            retrieved = p @ values
        out = self.association_core.output(retrieved)
        if self.association_activation is not None:
            out = ACTIVATIONS[self.association_activation](out)
        return out if self.batch_first else out.transpose(0, 1)

    def association(
        self,
        input: Inputs,  # noqa: A002
        stored_pattern_padding_mask: torch.Tensor | None = None,
        association_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The final association matrix p, (B, H, L, S) (S + 1 per added bias or zero row); differentiable."""
        return self.trajectory(input, stored_pattern_padding_mask, association_mask)[0]

    def trajectory(
        self,
        input: Inputs,  # noqa: A002
        stored_pattern_padding_mask: torch.Tensor | None = None,
        association_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The explicit path: (p (B, H, L, S), final state xi (B, H, L, hd), softmax applications per head)."""
        xi, keys, _, mask = self._prepare(input, stored_pattern_padding_mask, association_mask)
        return update.associate(xi, keys, self.scaling, mask, self.update_steps_max, self.update_steps_eps)

    def energy(
        self,
        input: Inputs,  # noqa: A002
        stored_pattern_padding_mask: torch.Tensor | None = None,
        association_mask: torch.Tensor | None = None,
        *,
        initial: bool = False,
    ) -> torch.Tensor:
        """Eq. 2 per head, (B, H, L), of the final state (``initial=True``: of the projected state before any
        update) against the projected stored patterns; it never rises with ``update_steps_max`` (Theorem 1)."""
        xi0, keys, _, mask = self._prepare(input, stored_pattern_padding_mask, association_mask)
        if initial:
            return update.energy(xi0, keys, self.scaling, mask)
        _, xi, _ = update.associate(
            xi0, keys, self.scaling, mask, self.update_steps_max, self.update_steps_eps
        )
        return update.energy(xi, keys, self.scaling, mask)

    def projected_pattern_matrix(
        self,
        input: Inputs,  # noqa: A002
    ) -> torch.Tensor:
        """The projected pattern projections V per head, (B, H, S, pattern_size) (hflayers'
        ``get_projected_pattern_matrix``)."""
        return self._prepare(input, None, None)[2]

    def _fixed_count(self) -> bool:
        return self.update_steps_max is not None and (
            self.update_steps_eps is None or self.update_steps_max == 0
        )

    def _prepare(
        self,
        input: Inputs,
        padding_mask: torch.Tensor | None,
        association_mask: torch.Tensor | None,  # noqa: A002
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        stored, state, projection = _split(input, self.batch_first)
        # before the norms, so that a wrong depth is this clear error and not LayerNorm's
        _check_depths(self.association_core.sizes, stored, state, projection)
        stored = self.norm_stored_pattern(stored)
        state = self.norm_state_pattern(state)
        projection = self.norm_pattern_projection(projection)
        xi, keys, values = self.association_core.project(stored, state, projection)
        batch, heads, queries, _ = xi.shape
        mask = additive_mask(
            padding_mask,
            association_mask,
            batch=batch,
            heads=heads,
            queries=queries,
            keys=stored.shape[1],
            extra_keys=self.association_core.extra_keys(),
            dtype=xi.dtype,
        )
        return xi, keys, values, mask


def _split(input: Inputs, batch_first: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: A002
    if isinstance(input, torch.Tensor):
        parts = (input, input, input)
    elif (
        isinstance(input, (tuple, list))
        and len(input) == 3
        and all(isinstance(t, torch.Tensor) for t in input)
    ):
        parts = tuple(input)
    else:
        raise ValueError(
            "input: must be a tensor or a tuple (stored_pattern, state_pattern, pattern_projection)"
        )
    for name, tensor in zip(("stored_pattern", "state_pattern", "pattern_projection"), parts, strict=True):
        if tensor.dim() != 3:
            raise ValueError(
                f"{name}: must be 3-D ({'batch, length' if batch_first else 'length, batch'}, features), got shape {tuple(tensor.shape)}"
            )
    if not batch_first:
        parts = tuple(t.transpose(0, 1) for t in parts)
    stored, state, projection = parts
    if not (stored.shape[0] == state.shape[0] == projection.shape[0]):
        raise ValueError(
            f"input: batch sizes differ: stored {stored.shape[0]}, state {state.shape[0]}, pattern_projection {projection.shape[0]}"
        )
    if stored.shape[1] != projection.shape[1]:
        raise ValueError(
            f"pattern_projection: must hold one row per stored pattern ({stored.shape[1]}), got {projection.shape[1]}"
        )
    return stored, state, projection


def _check_depths(sizes: Sizes, stored: torch.Tensor, state: torch.Tensor, projection: torch.Tensor) -> None:
    for name, want, tensor in (
        ("stored_pattern", sizes.stored, stored),
        ("state_pattern", sizes.state, state),
        ("pattern_projection", sizes.projection, projection),
    ):
        if want is not None and tensor.shape[-1] != want:
            raise ValueError(f"{name}: features must be {want}, got {tensor.shape[-1]}")
    if sizes.stored is None and stored.shape[-1] != state.shape[-1]:
        raise ValueError(
            f"state_pattern: static patterns need equal depths: stored {stored.shape[-1]}, state {state.shape[-1]}"
        )


def _norm(enabled: bool, affine: bool, eps: float, size: int | None) -> nn.Module:
    if not enabled:
        return nn.Identity()
    if size is None:
        raise ValueError(
            "input_size: needed to normalise the patterns (or switch the normalize_* options off)"
        )
    return nn.LayerNorm(size, eps=eps, elementwise_affine=affine)


def _check_options(
    num_heads: int,
    update_steps_max: int | None,
    update_steps_eps: float | None,
    dropout: float,
    activation: str | None,
    input_size: int | None,
    static: tuple[bool, bool, bool],
) -> None:
    if not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads: must be an integer >= 1, got {num_heads!r}")
    if update_steps_max is not None and (not isinstance(update_steps_max, int) or update_steps_max < 0):
        raise ValueError(f"update_steps_max: must be an integer >= 0 or None, got {update_steps_max!r}")
    if update_steps_eps is not None and not update_steps_eps >= 0:
        raise ValueError(f"update_steps_eps: must be >= 0 or None, got {update_steps_eps!r}")
    if update_steps_max is None and update_steps_eps is None:
        raise ValueError("update_steps_max: None (until convergence) needs an update_steps_eps")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: must be in [0, 1), got {dropout!r}")
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(
            f"association_activation: unknown {activation!r}; allowed: {', '.join(ACTIVATIONS)} or None"
        )
    if input_size is None and not all(static):
        raise ValueError("input_size: needed unless stored, state and pattern projection are all static")


def _sizes(
    input_size: int | None,
    hidden_size: int | None,
    output_size: int | None,
    pattern_size: int | None,
    num_heads: int,
    stored_size: int | None,
    projection_size: int | None,
    static: tuple[bool, bool, bool],
    disable_out_projection: bool,
) -> Sizes:
    """hflayers' defaults: hidden = input_size // heads, pattern = hidden, output = input_size, Y and Y' depths
    = input_size."""
    stored = stored_size if stored_size is not None else input_size
    projection = projection_size if projection_size is not None else input_size
    if input_size is not None and hidden_size is None:
        if input_size % num_heads:
            raise ValueError(
                f"num_heads: must divide input_size ({input_size}) unless hidden_size is given, got {num_heads}"
            )
        hidden_size = input_size // num_heads
    if pattern_size is None:
        pattern_size = hidden_size
    if static[2] and projection is not None:
        pattern_size = projection  # a static projection is seen whole by every head
    if output_size is None:
        output_size = input_size if not disable_out_projection else None
    if not disable_out_projection and (output_size is None or pattern_size is None):
        raise ValueError("output_size: needed for the output projection (or disable_out_projection=True)")
    return Sizes(input_size, stored, projection, num_heads, hidden_size, pattern_size, output_size)
