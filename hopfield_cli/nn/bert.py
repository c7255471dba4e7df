"""A BERT encoder written here in torch, returning every head's attention probabilities (torch only).

Each self-attention head is one modern Hopfield update (Eq. 3 of Ramsauer et al. 2021) with
beta = 1/sqrt(d_head): p = softmax(beta K^T q) over the N keys of the window. ``BertEncoder`` follows the
post-LayerNorm BERT of Devlin et al. (2019) exactly as Hugging Face's ``BertModel`` computes it in its
"eager" attention (the tests compare the two to 1e-5), and its parameter names are Hugging Face's, so a
``model.safetensors`` of a BERT checkpoint loads with ``load_state_dict`` (``bert.`` prefixes and the old
``gamma``/``beta`` LayerNorm names are mapped by ``hf_state_dict``).

Two options serve `hopfield train task=mlm`: sinusoidal positions (Vaswani et al. 2017) instead of learned
ones, and ``gaussian_layers``: those layers' heads become ``GaussianAttention``, which averages the values
with fixed-shape weights A_ij proportional to exp(-((s_j - mu_i) / sigma_i)^2 / 2) over key positions s_j,
with 2N parameters per head (mu_i, log sigma_i per query position i) in place of the query and key
projections: the paper's Appendix A.5 replacement of averaging heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(length, width): sin/cos of position / 10000^(2i/width) (Vaswani et al. 2017)."""
    position = torch.arange(length, dtype=torch.float64)[:, None]
    rate = torch.exp(-math.log(10000.0) * torch.arange(0, width, 2, dtype=torch.float64) / width)
    table = torch.zeros(length, width, dtype=torch.float64)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)[:, : width // 2]
    return table.float()


@dataclass(frozen=True)
class BertShape:
    """The sizes of a BERT encoder (Hugging Face's BertConfig names in ``from_hf_config``)."""

    vocab_size: int
    hidden_size: int = 64
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 256
    max_positions: int = 512
    type_vocab_size: int = 0  # 0: no segment embedding (the MLM here has one segment)
    layer_norm_eps: float = 1e-12
    positions: str = "learned"  # learned | sinusoidal
    gaussian_layers: tuple[int, ...] = ()

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @classmethod
    def from_hf_config(cls, config: dict) -> BertShape:
        return cls(
            vocab_size=int(config["vocab_size"]),
            hidden_size=int(config["hidden_size"]),
            num_layers=int(config["num_hidden_layers"]),
            num_heads=int(config["num_attention_heads"]),
            intermediate_size=int(config["intermediate_size"]),
            max_positions=int(config["max_position_embeddings"]),
            type_vocab_size=int(config.get("type_vocab_size", 2)),
            layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        )


class Embeddings(nn.Module):
    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(shape.vocab_size, shape.hidden_size)
        if shape.positions == "learned":
            self.position_embeddings = nn.Embedding(shape.max_positions, shape.hidden_size)
        else:
            table = sinusoidal_positions(shape.max_positions, shape.hidden_size)
            self.register_buffer("sinusoid", table, persistent=False)
        if shape.type_vocab_size:
            self.token_type_embeddings = nn.Embedding(shape.type_vocab_size, shape.hidden_size)
        self.LayerNorm = nn.LayerNorm(shape.hidden_size, eps=shape.layer_norm_eps)

    def forward(self, ids: torch.Tensor, token_type_ids: torch.Tensor | None) -> torch.Tensor:
        t = ids.shape[1]
        h = self.word_embeddings(ids)
        if hasattr(self, "position_embeddings"):
            h = h + self.position_embeddings.weight[:t]
        else:
            h = h + self.sinusoid[:t].to(h.dtype)
        if hasattr(self, "token_type_embeddings"):
            types = torch.zeros_like(ids) if token_type_ids is None else token_type_ids
            h = h + self.token_type_embeddings(types)
        return self.LayerNorm(h)


def _split(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, T, H * d) -> (B, H, T, d)."""
    b, t, _ = x.shape
    return x.view(b, t, heads, -1).transpose(1, 2)


class SelfAttention(nn.Module):
    """Softmax heads: p = softmax(q k^T / sqrt(d_head) + mask), the Hopfield update with beta = 1/sqrt(d)."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.heads = shape.num_heads
        self.query = nn.Linear(shape.hidden_size, shape.hidden_size)
        self.key = nn.Linear(shape.hidden_size, shape.hidden_size)
        self.value = nn.Linear(shape.hidden_size, shape.hidden_size)

    def probabilities(self, h: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        q, k = _split(self.query(h), self.heads), _split(self.key(h), self.heads)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, H, T, T)
        if bias is not None:
            scores = scores + bias
        return torch.softmax(scores, dim=-1)

    def forward(
        self, h: torch.Tensor, bias: torch.Tensor | None, need_probs: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        v = _split(self.value(h), self.heads)
        if not need_probs:  # training: torch's fused attention, the same update without the (T, T) copies
            q, k = _split(self.query(h), self.heads), _split(self.key(h), self.heads)
            context = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
            return context.transpose(1, 2).reshape(h.shape), None
        probs = self.probabilities(h, bias)
        context = probs @ v  # (B, H, T, d)
        return context.transpose(1, 2).reshape(h.shape), probs


def gaussian_weights(mu: torch.Tensor, log_sigma: torch.Tensor, n_keys: int) -> torch.Tensor:
    """A_ij = exp(-((s_j - mu_i) / sigma_i)^2 / 2) / sum_j (same), s_j = j: (..., Q) -> (..., Q, n_keys)."""
    s = torch.arange(n_keys, dtype=mu.dtype, device=mu.device)
    z = (s - mu[..., None]) / log_sigma.exp()[..., None]
    return torch.softmax(-0.5 * z.square(), dim=-1)


class GaussianAttention(nn.Module):
    """Averaging heads with Gaussian weights over key positions: 2N parameters per head (mu_i, log sigma_i).

    Initialised global (mu_i = i, sigma_i = N: nearly uniform weights, class I) as a softmax head starts."""

    def __init__(self, shape: BertShape, length: int) -> None:
        super().__init__()
        self.heads, self.length = shape.num_heads, length
        self.value = nn.Linear(shape.hidden_size, shape.hidden_size)
        self.mu = nn.Parameter(torch.arange(length, dtype=torch.float32).repeat(shape.num_heads, 1))
        self.log_sigma = nn.Parameter(torch.full((shape.num_heads, length), math.log(length)))

    def probabilities(self, h: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        t = h.shape[1]
        probs = gaussian_weights(self.mu[:, :t], self.log_sigma[:, :t], t)  # (H, T, T)
        probs = probs.expand(h.shape[0], -1, -1, -1)
        if bias is not None:  # padded keys: zero weight, rows renormalised
            probs = probs * (bias > torch.finfo(bias.dtype).min / 2)
            probs = probs / probs.sum(-1, keepdim=True)
        return probs

    def forward(
        self, h: torch.Tensor, bias: torch.Tensor | None, need_probs: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        probs = self.probabilities(h, bias)
        context = probs @ _split(self.value(h), self.heads)
        return context.transpose(1, 2).reshape(h.shape), probs


class DenseNorm(nn.Module):
    """LayerNorm(residual + dense(x)): BERT's post-LN sub-layer output."""

    def __init__(self, inner: int, shape: BertShape) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, shape.hidden_size)
        self.LayerNorm = nn.LayerNorm(shape.hidden_size, eps=shape.layer_norm_eps)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Layer(nn.Module):
    def __init__(self, shape: BertShape, gaussian: bool) -> None:
        super().__init__()
        self.attention = nn.Module()
        heads = GaussianAttention(shape, shape.max_positions) if gaussian else SelfAttention(shape)
        self.attention.add_module("self", heads)
        self.attention.add_module("output", DenseNorm(shape.hidden_size, shape))
        self.intermediate = nn.Module()
        self.intermediate.add_module("dense", nn.Linear(shape.hidden_size, shape.intermediate_size))
        self.output = DenseNorm(shape.intermediate_size, shape)

    def forward(
        self, h: torch.Tensor, bias: torch.Tensor | None, need_probs: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        context, probs = self.attention.self(h, bias, need_probs)
        h = self.attention.output(context, h)
        inner = nn.functional.gelu(self.intermediate.dense(h))  # exact (erf) GELU, as BERT's "gelu"
        return self.output(inner, h), probs


class BertEncoder(nn.Module):
    """Embeddings and ``num_layers`` post-LN blocks; ``forward`` returns (hidden (B, T, D), [probs (B, H, T, T)
    per layer]); with ``need_probs=False`` softmax layers use fused attention and return no probabilities."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.shape = shape
        self.embeddings = Embeddings(shape)
        self.encoder = nn.Module()
        gaussian = set(shape.gaussian_layers)
        self.encoder.add_module(
            "layer", nn.ModuleList(Layer(shape, i in gaussian) for i in range(shape.num_layers))
        )

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        need_probs: bool = True,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        h = self.embeddings(input_ids, token_type_ids)
        bias = None
        if attention_mask is not None:  # 1 = token, 0 = padding: padding keys get the dtype's minimum score
            keep = attention_mask[:, None, None, :].to(h.dtype)
            bias = (1.0 - keep) * torch.finfo(h.dtype).min
        probs = []
        for layer in self.encoder.layer:
            h, p = layer(h, bias, need_probs)
            if p is not None:
                probs.append(p)
        return h, probs


def hf_state_dict(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face BERT checkpoint's tensors under this encoder's names: the ``bert.`` prefix of the
    pre-training heads' checkpoints dropped, LayerNorm ``gamma``/``beta`` renamed, heads and buffers that the
    encoder does not use (pooler, MLM/NSP heads, position_ids) left out."""
    out = {}
    for name, value in tensors.items():
        name = name.removeprefix("bert.")
        if not name.startswith(("embeddings.", "encoder.")) or name.endswith("position_ids"):
            continue
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        out[name] = value
    return out


class MaskedLM(nn.Module):
    """BERT-style masked-language model: the encoder, then BERT's prediction head (dense, GELU, LayerNorm,
    a linear map to the vocabulary). ``forward`` returns (logits (B, T, V), [probs per layer])."""

    def __init__(self, shape: BertShape) -> None:
        super().__init__()
        self.bert = BertEncoder(shape)
        self.transform = nn.Linear(shape.hidden_size, shape.hidden_size)
        self.norm = nn.LayerNorm(shape.hidden_size, eps=shape.layer_norm_eps)
        self.decoder = nn.Linear(shape.hidden_size, shape.vocab_size)
        self.apply(_init_bert)

    def forward(self, ids: torch.Tensor, need_probs: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``need_probs=False`` (training) returns the probabilities of Gaussian layers only."""
        h, probs = self.bert(ids, need_probs=need_probs)
        return self.decoder(self.norm(nn.functional.gelu(self.transform(h)))), probs


def _init_bert(module: nn.Module) -> None:
    """BERT's initialisation: normal(0, 0.02) weights, zero biases (so every softmax head starts near global
    averaging, as the paper's Fig. A.4 shows)."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


def attention_parameters(model: nn.Module) -> dict[str, int]:
    """Trainable parameters of the whole model and of the heads' score maps (query+key, or mu+log sigma)."""
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    scores = 0
    for module in model.modules():
        if isinstance(module, SelfAttention):
            scores += sum(p.numel() for p in (*module.query.parameters(), *module.key.parameters()))
        elif isinstance(module, GaussianAttention):
            scores += module.mu.numel() + module.log_sigma.numel()
    return {"parameters": total, "score_parameters": scores}
