"""A float64 explicit-loop reference of the Hopfield layer (Eq. 3 / Eq. 10 of Ramsauer et al. 2021).

Written from the paper and from the semantics in tests/nn/fixtures/README.md, not from ``hopfield_cli.nn``:
plain Python floats and loops over batch, head, query and stored pattern, ``math.exp`` and sums, no torch
operation. Only the parameter *names* (hflayers' state_dict layout) are shared with the module.

    R, Y, Y' -> LayerNorm -> xi = R W_Q^T + b_Q, K = Y W_K^T + b_K, V = Y' W_V^T + b_V   (heads: feature blocks)
    p = softmax(beta_h xi K^T + mask)                     (one softmax application)
    while active: xi <- p K, p <- softmax(...)            (Eq. 3 on the projected stored patterns)
    out = W_O concat_h(p V) + b_O                          (Eq. 10)

A head stays active after its t-th update iff (steps_max is None or t < steps_max) and (t = 0 or max over the
batch of ||p_t - p_{t-1}||_F > eps) (hflayers' rule); ``eps=None`` means a fixed number of updates, and
``steps_max=None`` is capped at ``cap`` updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Vec = list[float]
Mat = list[Vec]


@dataclass
class Spec:
    """What the reference needs besides the parameters; each field as the fixtures' README defines it."""

    heads: int
    beta: list[float]  # one per head
    steps_max: int | None = 0
    eps: float | None = 1e-4
    normalize: tuple[bool, bool, bool] = (True, True, True)  # stored Y, state R, projection Y'
    norm_eps: float = 1e-5
    static: tuple[bool, bool, bool] = (False, False, False)  # stored Y, state R, projection Y'
    connected: bool = False
    hopfield_space_norm: bool = False
    hopfield_space_eps: float = 1e-5
    add_zero_association: bool = False
    cap: int = 1_000


@dataclass
class Result:
    output: list[Mat]  # (B, L, out)
    association: list[list[Mat]]  # (B, H, L, S')
    state: list[list[Mat]]  # final xi (B, H, L, hd)
    initial_state: list[list[Mat]]  # projected xi before any update
    keys: list[list[Mat]]  # (B, H, S', hd)
    allowed: list[list[list[list[bool]]]]  # (B, H, L, S'): False where masked
    counts: list[int]  # softmax applications per head


# --- small linear algebra on lists ---------------------------------------------------------------------------
def dot(a: Vec, b: Vec) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def linear(row: Vec, weight: Mat, bias: Vec | None) -> Vec:
    out = [dot(w, row) for w in weight]
    return out if bias is None else [o + b for o, b in zip(out, bias, strict=True)]


def layer_norm(row: Vec, weight: Vec | None, bias: Vec | None, eps: float) -> Vec:
    n = len(row)
    mean = sum(row) / n
    var = sum((x - mean) ** 2 for x in row) / n
    scale = 1.0 / math.sqrt(var + eps)
    out = [(x - mean) * scale for x in row]
    if weight is not None:
        out = [o * w + b for o, w, b in zip(out, weight, bias, strict=True)]
    return out


def softmax(scores: Vec, allowed: list[bool]) -> Vec:
    top = max(s for s, a in zip(scores, allowed, strict=True) if a)
    exps = [math.exp(s - top) if a else 0.0 for s, a in zip(scores, allowed, strict=True)]
    total = sum(exps)
    return [e / total for e in exps]


def logsumexp(values: Vec) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def norm(v: Vec) -> float:
    return math.sqrt(dot(v, v))


# --- the layer -------------------------------------------------------------------------------------------------
def _weights(params: dict, spec: Spec):
    """(W_Q, W_K, W_V) from ``in_proj_weight`` (stacked, static ones left out) or the separate weights."""
    learned = [not spec.static[1], not spec.static[0], not spec.static[2]]  # order Q, K, V
    if "association_core.in_proj_weight" in params:
        stacked = params["association_core.in_proj_weight"]
        width = len(stacked) // sum(learned)
        blocks = iter(stacked[i * width : (i + 1) * width] for i in range(sum(learned)))
        return tuple(next(blocks) if on else None for on in learned)
    names = ("q_proj_weight", "k_proj_weight", "v_proj_weight")
    return tuple(params.get(f"association_core.{n}") for n in names)


def _split_heads(row: Vec, heads: int) -> list[Vec]:
    size = len(row) // heads
    return [row[h * size : (h + 1) * size] for h in range(heads)]


def hopfield(
    params: dict,
    spec: Spec,
    stored: list[Mat],
    state: list[Mat],
    projection: list[Mat],
    padding_mask: list[list[bool]] | None = None,
    association_mask: list | None = None,
) -> Result:
    """The layer's forward, batch first: stored (B, S, ·), state (B, L, ·), projection (B, S, ·).

    ``params``: state_dict names -> nested lists. Masks: True = ignore; ``association_mask`` (L, S) or
    (B * H, L, S).
    """
    heads = spec.heads
    batch, n_stored, n_state = len(stored), len(stored[0]), len(state[0])

    def normed(rows: Mat, on: bool, name: str) -> Mat:
        if not on:
            return rows
        w, b = params.get(f"{name}.weight"), params.get(f"{name}.bias")
        return [layer_norm(r, w, b, spec.norm_eps) for r in rows]

    stored = [normed(x, spec.normalize[0], "norm_stored_pattern") for x in stored]
    state = [normed(x, spec.normalize[1], "norm_state_pattern") for x in state]
    projection = [normed(x, spec.normalize[2], "norm_pattern_projection") for x in projection]

    w_q, w_k, w_v = _weights(params, spec)
    bias = params.get("association_core.in_proj_bias")
    if bias is not None and (w_q is not None or w_k is not None):
        qk = len(w_q) if w_q is not None else len(w_k)
        b_q, b_k, b_v = bias[:qk], bias[qk : 2 * qk], bias[2 * qk :]
    else:
        b_q = b_k = b_v = None

    def per_head(rows: Mat, weight: Mat | None, b: Vec | None) -> list[Mat]:
        """(T, ·) -> (H, T, e): projected and cut into head blocks, or the raw rows for every head."""
        if weight is None:
            return [rows for _ in range(heads)]
        projected = [_split_heads(linear(r, weight, b), heads) for r in rows]
        return [[projected[t][h] for t in range(len(rows))] for h in range(heads)]

    xi0, keys, values = [], [], []
    for i in range(batch):
        xi_i = per_head(state[i], w_q, b_q)
        k_rows, v_rows = stored[i], projection[i]
        if w_v is not None and spec.connected:
            v_rows = [linear(r, w_k, b_k) for r in v_rows]
        k_i = per_head(k_rows, w_k, b_k)
        v_i = per_head(v_rows, w_v, b_v)
        if "association_core.bias_k" in params:
            bk = _split_heads(params["association_core.bias_k"][0][0], heads)
            bv = _split_heads(params["association_core.bias_v"][0][0], heads)
            k_i = [k_i[h] + [bk[h]] for h in range(heads)]
            v_i = [v_i[h] + [bv[h]] for h in range(heads)]
        if spec.hopfield_space_norm:
            w, b = params.get("association_core.p_norm_weight"), params.get("association_core.p_norm_bias")
            xi_i = [[layer_norm(r, w, b, spec.hopfield_space_eps) for r in xi_i[h]] for h in range(heads)]
            k_i = [[layer_norm(r, w, b, spec.hopfield_space_eps) for r in k_i[h]] for h in range(heads)]
        if spec.add_zero_association:
            k_i = [k_i[h] + [[0.0] * len(k_i[h][0])] for h in range(heads)]
            v_i = [v_i[h] + [[0.0] * len(v_i[h][0])] for h in range(heads)]
        xi0.append(xi_i)
        keys.append(k_i)
        values.append(v_i)
    n_keys = len(keys[0][0])

    def allowed_of(i: int, h: int, query: int) -> list[bool]:
        ok = [True] * n_keys
        for s in range(n_stored):
            if padding_mask is not None and padding_mask[i][s]:
                ok[s] = False
            if association_mask is not None:
                if len(association_mask) == n_state and len(association_mask[0]) == n_stored:
                    bad = association_mask[query][s]
                else:
                    bad = association_mask[i * heads + h][query][s]
                if bad:
                    ok[s] = False
        return ok

    allowed = [[[allowed_of(i, h, q) for q in range(n_state)] for h in range(heads)] for i in range(batch)]

    def probabilities(h: int, xi_h: list[Mat]) -> list[Mat]:
        """p for every batch item of head h: softmax over stored patterns of beta_h <xi, k_s>."""
        return [
            [
                softmax([spec.beta[h] * dot(xi_h[i][q], k) for k in keys[i][h]], allowed[i][h][q])
                for q in range(n_state)
            ]
            for i in range(batch)
        ]

    def new_state(h: int, p_h: list[Mat]) -> list[Mat]:
        """xi = sum_s p_s k_s (Eq. 3), the projected stored patterns as the retrieved vectors."""
        dim = len(keys[0][h][0])
        return [
            [
                [sum(p_h[i][q][s] * keys[i][h][s][c] for s in range(n_keys)) for c in range(dim)]
                for q in range(n_state)
            ]
            for i in range(batch)
        ]

    def change(p_h: list[Mat], prev: list[Mat]) -> float:
        return max(
            math.sqrt(
                sum(
                    (a - b) ** 2
                    for row, old in zip(p_h[i], prev[i], strict=True)
                    for a, b in zip(row, old, strict=True)
                )
            )
            for i in range(batch)
        )

    p = [[None] * heads for _ in range(batch)]
    xi = [[None] * heads for _ in range(batch)]
    counts = []
    for h in range(heads):
        xi_h = [xi0[i][h] for i in range(batch)]
        p_h = probabilities(h, xi_h)
        count, t, prev = 1, 0, None
        while True:
            if spec.steps_max is not None and t >= spec.steps_max:
                break
            if spec.steps_max is None and t >= spec.cap:
                break
            if t > 0 and spec.eps is not None and change(p_h, prev) <= spec.eps:
                break
            prev = p_h
            xi_h = new_state(h, p_h)
            p_h = probabilities(h, xi_h)
            count += 1
            t += 1
        counts.append(count)
        for i in range(batch):
            p[i][h], xi[i][h] = p_h[i], xi_h[i]

    out_w = params.get("association_core.out_proj.weight")
    out_b = params.get("association_core.out_proj.bias")
    output = []
    for i in range(batch):
        rows = []
        for q in range(n_state):
            row: Vec = []
            for h in range(heads):
                pd = len(values[i][h][0])
                row += [sum(p[i][h][q][s] * values[i][h][s][c] for s in range(n_keys)) for c in range(pd)]
            rows.append(row if out_w is None else linear(row, out_w, out_b))
        output.append(rows)
    return Result(output, p, xi, xi0, keys, allowed, counts)


def randomize(module, seed: int) -> None:
    """Test helper (not part of the reference): every parameter of a torch module N(0, 0.3), as the golden
    fixtures draw them, LayerNorm affines and learned patterns included."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, param in sorted(module.named_parameters()):
            param.copy_(0.3 * torch.randn(param.shape, generator=g, dtype=torch.float64).to(param.dtype))


def energy(xi: Vec, keys: Mat, allowed: list[bool], beta: float) -> float:
    """Eq. 2 for one state: -lse(beta, K xi) + 1/2 xi^T xi + 1/beta log N + 1/2 M^2, over the allowed keys."""
    kept = [k for k, a in zip(keys, allowed, strict=True) if a]
    lse = logsumexp([beta * dot(k, xi) for k in kept]) / beta
    m = max(norm(k) for k in kept)
    return -lse + 0.5 * dot(xi, xi) + math.log(len(kept)) / beta + 0.5 * m * m


def energies(result: Result, beta: list[float], *, initial: bool = False) -> list[list[Vec]]:
    """Eq. 2 of every (batch, head, query) state of a ``Result``, (B, H, L)."""
    states = result.initial_state if initial else result.state
    return [
        [
            [
                energy(states[i][h][q], result.keys[i][h], result.allowed[i][h][q], beta[h])
                for q in range(len(states[i][h]))
            ]
            for h in range(len(states[i]))
        ]
        for i in range(len(states))
    ]
