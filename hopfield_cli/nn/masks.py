"""Masks of the Hopfield layers: one convention, True (or non-zero) = IGNORE that stored pattern.

This is the convention of hflayers and of ``torch.nn.MultiheadAttention``'s ``key_padding_mask``; it is the
opposite of ``torch.nn.functional.scaled_dot_product_attention``'s boolean ``attn_mask`` (True = take part),
so every mask is turned here into one additive float mask (0 = take part, -inf = ignored) that both paths use.

- ``stored_pattern_padding_mask``: (B, S), bool or integer (non-zero = ignore; hflayers crashes on uint8 masks,
  defect 4), or float (added to the scores, as torch does).
- ``association_mask``: (L, S) or (B * H, L, S), same dtypes (defect 3 for uint8).
"""

from __future__ import annotations

import torch


def _as_additive(mask: torch.Tensor, name: str, dtype: torch.dtype) -> torch.Tensor:
    if mask.is_floating_point():
        return mask.to(dtype)
    if mask.dtype == torch.bool or not mask.is_complex():
        ignore = mask.to(torch.bool)
        return torch.zeros(ignore.shape, dtype=dtype, device=mask.device).masked_fill(ignore, float("-inf"))
    raise ValueError(f"{name}: must be bool, integer or float, got {mask.dtype}")


def additive_mask(
    padding_mask: torch.Tensor | None,
    association_mask: torch.Tensor | None,
    *,
    batch: int,
    heads: int,
    queries: int,
    keys: int,
    extra_keys: int,
    dtype: torch.dtype,
) -> torch.Tensor | None:
    """One additive mask (B or 1, H or 1, L, S + extra_keys) from the two user masks, or None.

    ``extra_keys`` columns (the bias row of ``concat_bias_pattern``, the zero row of ``add_zero_association``)
    are appended unmasked, as hflayers pads its masks with False.
    """
    total = None
    if padding_mask is not None:
        if tuple(padding_mask.shape) != (batch, keys):
            raise ValueError(
                f"stored_pattern_padding_mask: must have shape (batch, stored patterns) = ({batch}, {keys}), "
                f"got {tuple(padding_mask.shape)}"
            )
        total = _as_additive(padding_mask, "stored_pattern_padding_mask", dtype)[:, None, None, :]
    if association_mask is not None:
        shape = tuple(association_mask.shape)
        if shape == (queries, keys):
            part = _as_additive(association_mask, "association_mask", dtype)[None, None]
        elif shape == (batch * heads, queries, keys):
            part = _as_additive(association_mask, "association_mask", dtype).view(batch, heads, queries, keys)
        else:
            raise ValueError(
                f"association_mask: must have shape (state patterns, stored patterns) = ({queries}, {keys}) "
                f"or (batch * heads, {queries}, {keys}) = ({batch * heads}, {queries}, {keys}), got {shape}"
            )
        total = part if total is None else total + part
    if total is None or extra_keys == 0:
        return total
    pad = torch.zeros(*total.shape[:-1], extra_keys, dtype=total.dtype, device=total.device)
    return torch.cat([total, pad], dim=-1)
