"""``HopfieldPooling`` and ``HopfieldLayer``: the paper's two layers with learned patterns (Section 3).

- ``HopfieldPooling``: the state patterns R are ``quantity`` learned queries (``pooling_weights``, (1, Q, E)),
  the same for every bag; the input is the stored set Y (= Y', or a tuple (Y, Y')). Output (B, Q * output_size):
  a fixed-size summary of a set of any size (multiple-instance learning, immune repertoires).
- ``HopfieldLayer``: the stored patterns Y are ``quantity`` learned patterns (``lookup_weights``), the input is
  the state R; the retrieved values are Y itself or separate ``target_weights``
  (``lookup_weights_as_separated``). A learned associative memory, e.g. a replacement for a dense layer.

Both wrap a ``Hopfield`` as ``self.hopfield``, so their state_dict names are hflayers'
(``pooling_weights``, ``hopfield.association_core.in_proj_weight``, ...). batch_first=False takes (T, B, E)
input; the pooled output is (B, Q * output_size) either way (hflayers mixes batch and queries there, defect 7).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from hopfield_cli.nn.hopfield import Hopfield


def _learned_patterns(quantity: int, width: int, trainable: bool) -> nn.Parameter:
    if not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"quantity: must be an integer >= 1, got {quantity!r}")
    weights = torch.randn(1, quantity, width) / math.sqrt(width)
    return nn.Parameter(weights, requires_grad=trainable)


class HopfieldPooling(nn.Module):
    """Pool a set of stored patterns into ``quantity`` retrieved patterns with learned state patterns."""

    def __init__(self, input_size: int, quantity: int = 1, trainable: bool = True, **hopfield: Any) -> None:
        super().__init__()
        self.hopfield = Hopfield(input_size=input_size, **hopfield)
        self.quantity = quantity
        self.pooling_weights = _learned_patterns(quantity, input_size, trainable)

    @property
    def output_size(self) -> int:
        return self.quantity * self.hopfield.output_size

    def _inputs(self, input: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> tuple:  # noqa: A002
        if isinstance(input, torch.Tensor):
            stored = projection = input
        elif isinstance(input, (tuple, list)) and len(input) == 2:
            stored, projection = input
        else:
            raise ValueError("input: must be a tensor or a tuple (stored_pattern, pattern_projection)")
        if stored.dim() != 3:
            raise ValueError(f"stored_pattern: must be 3-D, got shape {tuple(stored.shape)}")
        batch = stored.shape[0] if self.hopfield.batch_first else stored.shape[1]
        state = self.pooling_weights.expand(batch, -1, -1)
        if not self.hopfield.batch_first:
            state = state.transpose(0, 1)
        return stored, state.to(stored.dtype), projection

    def forward(
        self,
        input: torch.Tensor | tuple[torch.Tensor, torch.Tensor],  # noqa: A002
        stored_pattern_padding_mask: torch.Tensor | None = None,
        association_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = self.hopfield(self._inputs(input), stored_pattern_padding_mask, association_mask)
        if not self.hopfield.batch_first:
            out = out.transpose(0, 1)
        return out.flatten(start_dim=1)

    def association(self, input, stored_pattern_padding_mask=None, association_mask=None) -> torch.Tensor:  # noqa: A002
        """(B, H, Q, S): which stored patterns (instances) each learned query attends to."""
        return self.hopfield.association(self._inputs(input), stored_pattern_padding_mask, association_mask)

    def energy(self, input, stored_pattern_padding_mask=None, association_mask=None, **kw) -> torch.Tensor:  # noqa: A002
        return self.hopfield.energy(self._inputs(input), stored_pattern_padding_mask, association_mask, **kw)


class HopfieldLayer(nn.Module):
    """Associate each input (state pattern) with ``quantity`` learned stored patterns."""

    def __init__(
        self,
        input_size: int,
        quantity: int = 1,
        lookup_weights_as_separated: bool = False,
        lookup_targets_as_trainable: bool = True,
        **hopfield: Any,
    ) -> None:
        super().__init__()
        self.hopfield = Hopfield(input_size=input_size, **hopfield)
        self.quantity = quantity
        self.lookup_weights = _learned_patterns(quantity, input_size, True)
        if lookup_weights_as_separated:
            self.target_weights = _learned_patterns(quantity, input_size, lookup_targets_as_trainable)
        else:
            self.target_weights = None

    @property
    def output_size(self) -> int:
        return self.hopfield.output_size

    def _inputs(self, input: torch.Tensor) -> tuple:  # noqa: A002
        if not isinstance(input, torch.Tensor) or input.dim() != 3:
            raise ValueError("input: must be one 3-D tensor of state patterns")
        batch = input.shape[0] if self.hopfield.batch_first else input.shape[1]
        stored = self.lookup_weights.expand(batch, -1, -1).to(input.dtype)
        targets = self.target_weights if self.target_weights is not None else self.lookup_weights
        projection = targets.expand(batch, -1, -1).to(input.dtype)
        if not self.hopfield.batch_first:
            stored, projection = stored.transpose(0, 1), projection.transpose(0, 1)
        return stored, input, projection

    def forward(
        self,
        input: torch.Tensor,  # noqa: A002
        stored_pattern_padding_mask: torch.Tensor | None = None,
        association_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.hopfield(self._inputs(input), stored_pattern_padding_mask, association_mask)

    def association(self, input, stored_pattern_padding_mask=None, association_mask=None) -> torch.Tensor:  # noqa: A002
        return self.hopfield.association(self._inputs(input), stored_pattern_padding_mask, association_mask)

    def energy(self, input, stored_pattern_padding_mask=None, association_mask=None, **kw) -> torch.Tensor:  # noqa: A002
        return self.hopfield.energy(self._inputs(input), stored_pattern_padding_mask, association_mask, **kw)
