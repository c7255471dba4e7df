"""Hopfield pooling over a set too large to hold at once: an online softmax over blocks of stored patterns.

``HopfieldPooling`` retrieves softmax(beta xi K^T) V for its learned state patterns xi. Over blocks
K_b, V_b of the stored patterns (each projected on its own: the LayerNorms and projections act row by row)
the softmax is accumulated as in the capacity sweep's kernel (``core.streaming``) and flash attention:

    m <- max(m, max_b s_b),   l <- l e^(m_old - m) + sum_b e^(s_b - m),   a <- a e^(m_old - m) + e^(s_b - m) V_b

and the retrieved pattern is a / l. Memory: one block's projections plus (H, Q) running numbers; the raw
scores s (H, Q, S) are kept (4 bytes each) so the attention of every stored pattern can be reported.
Valid for one association (``update_steps_max=0``, the training path), no bias pattern, no dropout
(evaluation mode); ``add_zero_association`` is one zero pattern for the whole set. Tested equal to the
unstreamed layer in float64. ``scores`` cover the stored patterns only (not the zero pattern).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from hopfield_cli.nn import HopfieldPooling


def _check(pooling: HopfieldPooling) -> None:
    hopfield = pooling.hopfield
    if hopfield.update_steps_max != 0 or hopfield.association_core.bias_k is not None:
        raise ValueError("streamed pooling needs update_steps_max=0 and no bias pattern")
    if not hopfield.batch_first:
        raise ValueError("streamed pooling needs batch_first=True")


@torch.no_grad()
def streamed_pooling(
    pooling: HopfieldPooling, blocks: Iterable[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pool the stored patterns given as blocks (B, S_b, E) -> (output (B, Q * output_size), scores (B, H, Q, S))."""
    _check(pooling)
    hopfield = pooling.hopfield
    zero = hopfield.association_core.add_zero_association
    m = total = acc = None
    scores: list[torch.Tensor] = []
    for block in blocks:
        xi, keys, values, _ = hopfield._prepare(pooling._inputs(block), None, None)
        if zero:  # the layer appends a zero row to every block: counted once, below, not per block
            keys, values = keys[..., :-1, :], values[..., :-1, :]
        s = (xi * hopfield.scaling.view(1, -1, 1, 1).to(xi.dtype)) @ keys.transpose(-2, -1)  # (B, H, Q, S_b)
        block_max = s.amax(dim=-1)  # (B, H, Q)
        if m is None and zero:  # the zero pattern: score 0, value 0, so the state may attend to nothing
            m, total = torch.zeros_like(block_max), torch.ones_like(block_max)
            acc = torch.zeros(*block_max.shape, values.shape[-1], dtype=values.dtype, device=values.device)
        if m is None:
            m = block_max
            weights = torch.exp(s - m[..., None])
            total = weights.sum(dim=-1)
            acc = weights @ values  # (B, H, Q, pd)
        else:
            new = torch.maximum(m, block_max)
            decay = torch.exp(m - new)
            weights = torch.exp(s - new[..., None])
            total = total * decay + weights.sum(dim=-1)
            acc = acc * decay[..., None] + weights @ values
            m = new
        scores.append(s.float())
    if m is None:
        raise ValueError("streamed pooling needs at least one block of stored patterns")
    out = hopfield.association_core.output(acc / total[..., None])  # (B, Q, output_size)
    if hopfield.association_activation is not None:
        from hopfield_cli.nn.hopfield import ACTIVATIONS

        out = ACTIVATIONS[hopfield.association_activation](out)
    return out.flatten(start_dim=1), torch.cat(scores, dim=-1)


def attention_weights(scores: torch.Tensor) -> torch.Tensor:
    """softmax over the stored patterns of the kept scores (B, H, Q, S): the association p of every pattern."""
    return torch.softmax(scores.double(), dim=-1)
