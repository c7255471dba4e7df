"""The models of `hopfield train`: embed the elements, reduce them to one vector with the chosen layer, classify.

    logit = w^T layer(E x + positions) + b

The embedding is one linear map (plus sinusoidal positions for ordered elements, as in a transformer), so
every non-linearity the task needs is in the layer: the comparison between layers is the comparison the
paper makes (Hopfield pooling against mean, max and attention pooling; Hopfield layers against an LSTM).

Layers (``layer=``): ``hopfield`` (``Hopfield`` self-association, then the last element's output for a sequence,
the mean for a set), ``pooling`` (``HopfieldPooling``), ``lookup`` (``HopfieldLayer`` then the maximum over the
elements), and the baselines ``mean``, ``max``, ``attention`` (Ilse et al. 2018, gated or not) and ``lstm``.
The Hopfield layers run a fixed number of updates (``update_steps_eps=None``), so training uses the
``scaled_dot_product_attention`` path.
"""

from __future__ import annotations

import torch
from torch import nn

from hopfield_cli.config.train_options import HOPFIELD_LAYERS
from hopfield_cli.nn import Hopfield, HopfieldLayer, HopfieldPooling
from hopfield_cli.nn.bert import sinusoidal_positions


def _masked_mean(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return h.mean(dim=1)
    keep = (~mask).to(h.dtype)[..., None]
    return (h * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1.0)


def _masked_max(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is not None:
        h = h.masked_fill(mask[..., None], float("-inf"))
    return h.amax(dim=1)


def _hopfield_kwargs(layer) -> dict:
    return {
        "num_heads": layer.num_heads,
        "hidden_size": layer.hidden_size,
        "scaling": layer.scaling,
        "scaling_trainable": layer.scaling_trainable,
        "update_steps_max": layer.update_steps_max,
        "update_steps_eps": None,
        "dropout": layer.dropout,
    }


class HopfieldReduce(nn.Module):
    def __init__(self, width: int, layer, ordered: bool) -> None:
        super().__init__()
        self.hopfield = Hopfield(input_size=width, **_hopfield_kwargs(layer))
        self.ordered, self.out_features = ordered, width

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        out = self.hopfield(h, stored_pattern_padding_mask=mask)
        return out[:, -1] if self.ordered else _masked_mean(out, mask)


class PoolingReduce(nn.Module):
    def __init__(self, width: int, layer, ordered: bool) -> None:
        super().__init__()
        self.pooling = HopfieldPooling(width, quantity=layer.quantity, **_hopfield_kwargs(layer))
        self.out_features = self.pooling.output_size

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return self.pooling(h, stored_pattern_padding_mask=mask)


class LookupReduce(nn.Module):
    def __init__(self, width: int, layer, ordered: bool) -> None:
        super().__init__()
        self.lookup = HopfieldLayer(width, quantity=layer.quantity, **_hopfield_kwargs(layer))
        self.out_features = self.lookup.output_size

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return _masked_max(self.lookup(h), mask)


class MeanReduce(nn.Module):
    def __init__(self, width: int, layer, ordered: bool) -> None:
        super().__init__()
        self.out_features = width

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return _masked_mean(h, mask)


class MaxReduce(MeanReduce):
    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return _masked_max(h, mask)


class AttentionReduce(nn.Module):
    """Ilse et al. (2018), Eq. 9/10: a_k = softmax_k(w^T (tanh(V h_k) * sigm(U h_k))), z = sum_k a_k h_k."""

    def __init__(self, width: int, layer, ordered: bool) -> None:
        super().__init__()
        self.v = nn.Linear(width, layer.attention_size)
        self.u = nn.Linear(width, layer.attention_size) if layer.gated else None
        self.w = nn.Linear(layer.attention_size, 1)
        self.out_features = width

    def weights(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        gate = torch.tanh(self.v(h))
        if self.u is not None:
            gate = gate * torch.sigmoid(self.u(h))
        scores = self.w(gate).squeeze(-1)  # (B, T)
        if mask is not None:
            scores = scores.masked_fill(mask, float("-inf"))
        return torch.softmax(scores, dim=-1)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        return (self.weights(h, mask)[..., None] * h).sum(dim=1)


class LstmReduce(nn.Module):
    def __init__(self, width: int, layer, ordered: bool) -> None:
        super().__init__()
        self.lstm = nn.LSTM(width, layer.hidden_size, num_layers=layer.num_layers, batch_first=True)
        self.out_features = layer.hidden_size

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None:
            lengths = (~mask).sum(dim=1).clamp_min(1).cpu()
            h = nn.utils.rnn.pack_padded_sequence(h, lengths, batch_first=True, enforce_sorted=False)
        _, (last, _) = self.lstm(h)
        return last[-1]


REDUCERS = {
    "hopfield": HopfieldReduce,
    "pooling": PoolingReduce,
    "lookup": LookupReduce,
    "mean": MeanReduce,
    "max": MaxReduce,
    "attention": AttentionReduce,
    "lstm": LstmReduce,
}
assert set(HOPFIELD_LAYERS) <= set(REDUCERS)


class Classifier(nn.Module):
    """Binary classifier of a set or sequence of elements (B, T, F) -> logits (B,)."""

    def __init__(self, features: int, embedding: int, layer, ordered: bool, length: int) -> None:
        super().__init__()
        self.embed = nn.Linear(features, embedding)
        if ordered:
            self.register_buffer("positions", sinusoidal_positions(length, embedding), persistent=False)
        else:
            self.positions = None
        self.reduce = REDUCERS[layer.name](embedding, layer, ordered)
        self.head = nn.Linear(self.reduce.out_features, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.embed(x)
        if self.positions is not None:
            h = h + self.positions[: h.shape[1]].to(h.dtype)
        return self.head(self.reduce(h, mask)).squeeze(-1)


def build_model(layer, features: int, embedding: int, ordered: bool, length: int) -> Classifier:
    return Classifier(features, embedding, layer, ordered, length)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
