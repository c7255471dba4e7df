"""Attention heads in classes I-IV by k (Section 4), on a small transformer run here and on a user's file.

The transformer: ``layers`` blocks of ``torch.nn.MultiheadAttention`` (d_model 64, 8 heads, random
weights from the seed) over random tokens; head h's query projection is scaled by a temperature factor
spread geometrically from 0.02 to 500, so the heads span global averaging to single-key attention.

The prediction is made from the scores alone, without k: with s the scores of one query,
- spread max(s) - min(s) < ln 9: every weight is within e^spread of every other, so the top half of the keys
  holds at most e^spread / (1 + e^spread) < 0.9 of the mass and k90 > N/2 (class I);
- gap between the two largest scores >= ln(9 (N-1)): the largest weight is >= 0.9, so k90 = 1 (class IV).
A head is predicted I (or IV) when more than half of its queries satisfy that condition (then the median k
does); the measured class comes from k90 (``attention_heads.head_table``). PASS when every predicted head
is measured in its predicted class and both kinds of prediction occur.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from hopfield_cli.core.fixed_points import HEAD_CLASSES
from hopfield_cli.data.attention_file import load_attention
from hopfield_cli.experiments.attention_heads.from_file import head_table, query_k90
from hopfield_cli.experiments.reproduce.claims import Claim, relative_figure, reproduce_command, verdict
from hopfield_cli.experiments.reproduce.profiles import Profile
from hopfield_cli.report import figures
from hopfield_cli.report.files import write_table

D_MODEL, HEADS = 64, 16


def transformer_attention(layers: int, tokens: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, H, T, T) attention probabilities and (L, H, T, T) scores of a small random transformer."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, tokens, D_MODEL, generator=gen)
    factors = torch.logspace(math.log10(0.02), math.log10(500.0), HEADS)
    head_dim = D_MODEL // HEADS
    probs, scores = [], []
    with torch.no_grad():
        for _ in range(layers):
            attn = torch.nn.MultiheadAttention(D_MODEL, HEADS, batch_first=True)
            for h in range(HEADS):
                attn.in_proj_weight[h * head_dim : (h + 1) * head_dim] *= factors[h]
            norm = torch.nn.LayerNorm(D_MODEL)
            h_in = norm(x)
            out, weights = attn(h_in, h_in, h_in, need_weights=True, average_attn_weights=False)
            w_q, w_k, _ = attn.in_proj_weight.chunk(3)
            b_q, b_k, _ = attn.in_proj_bias.chunk(3)
            q = (h_in @ w_q.T + b_q).view(tokens, HEADS, head_dim).transpose(0, 1)
            k = (h_in @ w_k.T + b_k).view(tokens, HEADS, head_dim).transpose(0, 1)
            scores.append(q @ k.transpose(1, 2) / math.sqrt(head_dim))  # (H, T, T)
            probs.append(weights[0])
            x = x + out
    return torch.stack(probs), torch.stack(scores)


def predicted_classes(scores: torch.Tensor) -> list[list[str]]:
    """'I', 'IV' or '' (no prediction) per (layer, head) from the score bounds above."""
    n = scores.shape[-1]
    spread = scores.amax(-1) - scores.amin(-1)  # (L, H, T)
    top2 = scores.topk(2, dim=-1).values
    gap = top2[..., 0] - top2[..., 1]
    global_q = (spread < math.log(9.0)).double().mean(-1)
    single_q = (gap >= math.log(9.0 * (n - 1))).double().mean(-1)
    return [
        ["I" if g > 0.5 else "IV" if s > 0.5 else "" for g, s in zip(gl, sl, strict=True)]
        for gl, sl in zip(global_q.tolist(), single_q.tolist(), strict=True)
    ]


def head_classes(profile: Profile, seed: int, root: Path) -> Claim:
    probs, scores = transformer_attention(profile.head_layers, profile.head_tokens, seed)
    layers, heads, _, n_keys = probs.shape
    table = head_table(query_k90(probs), n_keys)
    predicted = predicted_classes(scores)
    table["predicted_class"] = [c for row in predicted for c in row]
    write_table(table, root / "runs" / "head_classes", "heads")
    checked = table[table.predicted_class != ""]
    agree = int((checked.predicted_class == checked.head_class).sum())
    kinds = set(checked.predicted_class)
    counts = {c: int((table.head_class == c).sum()) for c in HEAD_CLASSES}
    classes = table.head_class.to_numpy().reshape(layers, heads)
    figure = figures.save_head_classes(root / "figures" / "head_classes.png", classes, n_keys)
    return Claim(
        claim="head_classes",
        title="Attention heads fall into classes I-IV by k",
        statement="Heads either average globally (class I, k > N/2), sit in metastable states (II, III) or "
        "pick few keys (IV, k <= N/32); the class is read from k, the number of keys holding 90% of the weight.",
        where="Section 4, Fig. A.3",
        command=reproduce_command("head_classes", profile.name),
        theory="class I where the scores' spread < ln 9, class IV where the top gap >= ln(9 (N-1))",
        measured=f"{agree}/{len(checked)} predicted heads in their class; classes I-IV: "
        + ", ".join(f"{c} {n}" for c, n in counts.items()),
        tolerance="none: every predicted head, both predictions present",
        verdict=verdict(bool(len(checked) and agree == len(checked) and kinds == {"I", "IV"})),
        theory_value=float(len(checked)),
        measured_value=float(agree),
        figure=relative_figure(figure, root),
        detail=f"{layers} x nn.MultiheadAttention({D_MODEL}, {HEADS} heads), {n_keys} tokens, random weights; "
        "query scale per head 0.02..500",
    )


def file_classes(path: str, profile: Profile, root: Path) -> Claim:
    """The user's attention file (``attention=``): classes shown, no theory to compare with."""
    probs = load_attention(path)
    layers, heads, _, n_keys = probs.shape
    table = head_table(query_k90(probs), n_keys)
    write_table(table, root / "runs" / "attention_file", "heads")
    counts = {c: int((table.head_class == c).sum()) for c in HEAD_CLASSES}
    classes = table.head_class.to_numpy().reshape(layers, heads)
    figure = figures.save_head_classes(root / "figures" / "attention_file_classes.png", classes, n_keys)
    return Claim(
        claim="head_classes_file",
        title=f"Head classes of {Path(path).name}",
        statement="The same classes I-IV on the attention probabilities given with attention=.",
        where="Section 4, Fig. A.3",
        command=f"hopfield attention-heads attention={path}",
        theory="none (no expected classes for a given file)",
        measured=", ".join(f"{c} {n}" for c, n in counts.items())
        + f" ({layers} x {heads} heads, N = {n_keys})",
        tolerance="-",
        verdict=verdict(None),
        figure=relative_figure(figure, root),
    )
