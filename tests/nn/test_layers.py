"""The layers' own properties: gradients (gradcheck), the fast path against the explicit one, the energy (Eq. 2,
Theorem 1), the conventions where hflayers has defects (fixtures/DEFECTS.md #1-#8), clear errors, retrieval with
the pure-memory preset as in the paper's blog, and a finite loop for ``update_steps_max=None``.

All in float64 on tiny shapes unless said otherwise; every module gets random parameters (``randomize``).
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.func import functional_call

from hopfield_cli.nn import Hopfield, HopfieldLayer, HopfieldPooling, update
from tests.nn.reference import randomize

F64 = torch.float64
PURE = {  # Hopfield.pure_memory's switches, here with several heads
    "stored_pattern_as_static": True,
    "state_pattern_as_static": True,
    "pattern_projection_as_static": True,
    "normalize_stored_pattern": False,
    "normalize_stored_pattern_affine": False,
    "normalize_state_pattern": False,
    "normalize_state_pattern_affine": False,
    "normalize_pattern_projection": False,
    "normalize_pattern_projection_affine": False,
    "disable_out_projection": True,
}


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def build(cls=Hopfield, seed: int = 0, **kwargs) -> torch.nn.Module:
    module = cls(**kwargs).double().eval()
    randomize(module, seed)
    return module


def padding(batch: int, stored: int) -> torch.Tensor:
    """The last batch item ignores its last two stored patterns (True = ignore)."""
    mask = torch.zeros(batch, stored, dtype=torch.bool)
    mask[-1, -2:] = True
    return mask


def association_mask(shape: tuple[int, ...], seed: int = 1) -> torch.Tensor:
    mask = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.35
    mask[..., 0] = False  # every state keeps a stored pattern
    return mask


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a - b).abs().max().item()


# --- gradcheck ---------------------------------------------------------------------------------------------
def gradcheck(
    module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], *, parameters: bool = True, **masks
) -> None:
    """torch.autograd.gradcheck with respect to the inputs and every trainable parameter; with the parameters,
    in gradcheck's fast mode (a random projection of the Jacobian: 2 forwards instead of 2 per number)."""
    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad and parameters]
    names = [n for n, _ in named]
    params = [p.detach().clone().requires_grad_(True) for _, p in named]
    leaves = [x.detach().clone().requires_grad_(True) for x in inputs]
    k = len(leaves)

    def fn(*args):
        arg = args[0] if k == 1 else tuple(args[:k])
        return functional_call(module, dict(zip(names, args[k:], strict=True)), (arg,), masks)

    assert torch.autograd.gradcheck(
        fn, (*leaves, *params), eps=1e-6, atol=1e-6, rtol=1e-5, fast_mode=parameters
    )


@pytest.mark.parametrize("eps", [1e-4, None], ids=["explicit", "fast"])
def test_gradcheck_hopfield_two_heads_one_update(eps):
    module = build(input_size=4, num_heads=2, update_steps_max=1, update_steps_eps=eps)
    stored, state, projection = rand(2, 3, 4, seed=1), rand(2, 2, 4, seed=2), rand(2, 3, 4, seed=3)
    gradcheck(module, (stored, state, projection), stored_pattern_padding_mask=padding(2, 3))
    # and the full Jacobian with respect to the inputs
    gradcheck(
        module, (stored, state, projection), parameters=False, stored_pattern_padding_mask=padding(2, 3)
    )


def test_gradcheck_pooling():
    module = build(HopfieldPooling, input_size=4, num_heads=2, quantity=2, update_steps_max=1)
    gradcheck(module, (rand(2, 3, 4, seed=4),), stored_pattern_padding_mask=padding(2, 3))


def test_gradcheck_layer():
    module = build(
        HopfieldLayer,
        input_size=4,
        num_heads=2,
        quantity=3,
        lookup_weights_as_separated=True,
        update_steps_max=1,
    )
    gradcheck(module, (rand(2, 2, 4, seed=5),))


@pytest.mark.parametrize("eps", [1e-4, None], ids=["explicit", "fast"])
def test_learnable_beta(eps):
    module = build(
        input_size=4,
        num_heads=2,
        scaling=[0.7, 1.3],
        scaling_trainable=True,
        update_steps_max=1,
        update_steps_eps=eps,
    )
    assert "association_core.log_beta" in dict(module.named_parameters())
    x = rand(2, 3, 4, seed=6)
    gradcheck(module, (x,))
    module(x).pow(2).sum().backward()
    grad = module.association_core.log_beta.grad
    assert grad is not None and grad.shape == (2,) and bool((grad != 0).all())
    with torch.no_grad():  # beta = exp(log beta), one per head
        module.association_core.log_beta.copy_(torch.tensor([0.7, 1.3], dtype=F64).log())
    assert torch.allclose(module.scaling, torch.tensor([0.7, 1.3], dtype=F64))


# --- the fast path against the explicit one ------------------------------------------------------------------
@pytest.mark.parametrize("steps", [0, 1, 2, 3])
@pytest.mark.parametrize("static", [False, True], ids=["projected", "pure_memory"])
def test_fast_path_equals_explicit_path(steps, static):
    if static:
        fast = Hopfield.pure_memory(scaling=2.0, update_steps_max=steps, update_steps_eps=None).double()
        explicit = Hopfield.pure_memory(scaling=2.0, update_steps_max=steps, update_steps_eps=0.0).double()
    else:
        kw = {"input_size": 8, "num_heads": 2, "update_steps_max": steps}
        fast = build(**kw, update_steps_eps=None)
        explicit = build(**kw, update_steps_eps=0.0)
        explicit.load_state_dict(fast.state_dict())
    assert fast._fixed_count() and explicit._fixed_count() == (steps == 0)
    stored, state = rand(2, 6, 8, seed=7), rand(2, 4, 8, seed=8)
    heads = fast.num_heads
    masks = {
        "stored_pattern_padding_mask": padding(2, 6),
        "association_mask": association_mask((2 * heads, 4, 6)),
    }
    leaves = [t.clone().requires_grad_(True) for t in (stored, state)]
    out_fast = fast((leaves[0], leaves[1], leaves[0]), **masks)
    out_explicit = explicit((stored, state, stored), **masks)
    with torch.no_grad():
        p, _, counts = fast.trajectory((stored, state, stored), **masks)
        values = fast.projected_pattern_matrix((stored, state, stored))
        by_hand = fast.association_core.output(p @ values)
    assert counts.tolist() == [steps + 1] * heads
    assert max_diff(out_fast, by_hand) <= 1e-12
    assert max_diff(out_fast, out_explicit) <= 1e-12
    # and the gradients of the two paths agree
    grads_fast = torch.autograd.grad(out_fast.sum(), leaves)
    leaves2 = [t.clone().requires_grad_(True) for t in (stored, state)]
    grads_explicit = torch.autograd.grad(
        explicit((leaves2[0], leaves2[1], leaves2[0]), **masks).sum(), leaves2
    )
    for a, b in zip(grads_fast, grads_explicit, strict=True):
        assert max_diff(a, b) <= 1e-10


# --- energy (Eq. 2) --------------------------------------------------------------------------------------------
@settings(max_examples=15)
@given(
    seed=st.integers(0, 10_000),
    heads=st.sampled_from([1, 2]),
    beta=st.floats(0.05, 10.0),
    pure=st.booleans(),
    masked=st.booleans(),
)
def test_energy_never_rises_with_updates(seed, heads, beta, pure, masked):
    """Theorem 1: each update (a CCCP step) lowers Eq. 2 or keeps it; E >= 0 everywhere."""
    if pure:
        module = Hopfield(**PURE, num_heads=heads, scaling=beta, update_steps_eps=None).double()
    else:
        module = build(seed=seed, input_size=8, num_heads=heads, scaling=beta, update_steps_eps=None)
    x = (rand(2, 5, 8, seed=seed), rand(2, 3, 8, seed=seed + 1), rand(2, 5, 8, seed=seed))
    masks = {"stored_pattern_padding_mask": padding(2, 5)} if masked else {}
    with torch.no_grad():
        energies = [module.energy(x, **masks, initial=True)]
        for steps in range(4):
            module.update_steps_max = steps
            energies.append(module.energy(x, **masks))
    assert torch.equal(energies[0], energies[1])  # 0 updates: the initial state
    for before, after in zip(energies, energies[1:], strict=False):
        assert bool((after <= before + 1e-12 * (1 + before.abs())).all())
    assert bool((torch.stack(energies) >= -1e-12).all())


def test_energy_is_eq2():
    """Pure memory: E = -1/beta log sum_i exp(beta x_i^T xi) + 1/2 xi^T xi + 1/beta log N + 1/2 M^2, with the
    raw patterns; a padded pattern leaves the sum, N and M."""
    beta = 3.0
    module = Hopfield.pure_memory(scaling=beta, update_steps_max=2).double()
    patterns, query = rand(2, 7, 5, seed=9), rand(2, 3, 5, seed=10)
    pad = torch.zeros(2, 7, dtype=torch.bool)
    pad[1, 0] = True  # the pattern of largest norm is the one to drop, so that M changes
    patterns[1, 0] *= 5
    got = module.energy((patterns, query, patterns), stored_pattern_padding_mask=pad, initial=True)[:, 0]
    want = torch.empty(2, 3, dtype=F64)
    for i in range(2):
        kept = patterns[i][~pad[i]]
        lse = torch.logsumexp(beta * query[i] @ kept.T, dim=-1) / beta
        m = kept.norm(dim=-1).max()
        want[i] = (
            -lse
            + 0.5 * (query[i] ** 2).sum(-1)
            + torch.log(torch.tensor(len(kept), dtype=F64)) / beta
            + 0.5 * m**2
        )
    assert max_diff(got, want) <= 1e-12
    # after the updates: the same formula at the final state
    _, xi, _ = module.trajectory((patterns, query, patterns), stored_pattern_padding_mask=pad)
    final = module.energy((patterns, query, patterns), stored_pattern_padding_mask=pad)
    again = Hopfield.pure_memory(scaling=beta).double()
    assert (
        max_diff(final, again.energy((patterns, xi[:, 0], patterns), stored_pattern_padding_mask=pad))
        <= 1e-12
    )
    assert bool((final < got.unsqueeze(1)).all())


# --- hflayers' defects, done right (fixtures/DEFECTS.md) -------------------------------------------------------
@pytest.mark.parametrize("eps", [1e-4, None], ids=["explicit", "fast"])
def test_per_head_beta_is_each_heads_float_beta(eps):
    """#1: scaling=[b0, b1] gives head h exactly what the same weights give with the float b_h (on the fast
    path: a per-head tensor folded into xi against a float handed to SDPA as its scale)."""
    betas = [1.0, 8.0]
    kw = {"input_size": 8, "num_heads": 2, "update_steps_max": 2, "update_steps_eps": eps}
    kw["disable_out_projection"] = True  # the output is the heads' blocks side by side
    per_head = build(**kw, scaling=betas)
    as_tensor = build(**kw, scaling=torch.tensor(betas))
    as_tensor.load_state_dict(per_head.state_dict())
    x = (rand(2, 6, 8, seed=11), rand(2, 4, 8, seed=12), rand(2, 6, 8, seed=13))
    with torch.no_grad():
        p = per_head.association(x)
        out = per_head(x).view(2, 4, 2, 4)
        assert torch.equal(out, as_tensor(x).view(2, 4, 2, 4))
        for h, beta in enumerate(betas):
            single = build(**kw, scaling=beta)
            single.load_state_dict(per_head.state_dict())
            p_h = single.association(x)
            assert max_diff(p[:, h], p_h[:, h]) <= 1e-14
            assert max_diff(out[:, :, h], single(x).view(2, 4, 2, 4)[:, :, h]) <= 1e-13
            assert max_diff(p[:, 1 - h], p_h[:, 1 - h]) > 1e-3  # the other head did see another beta
    assert per_head.scaling.tolist() == betas


def test_concat_bias_pattern_adds_a_learned_row():
    """#2: one extra key/value column, unmasked, that changes the output and gets gradients."""
    module = build(input_size=8, num_heads=2, concat_bias_pattern=True, update_steps_max=1)
    x, pad = rand(2, 5, 8, seed=14), padding(2, 5)
    p = module.association(x, stored_pattern_padding_mask=pad)
    assert p.shape == (2, 2, 5, 6)
    assert bool((p[..., -1] > 0).all()) and bool((p[1, :, :, 3:5] == 0).all())
    plain = build(input_size=8, num_heads=2, update_steps_max=1)
    state = {k: v for k, v in module.state_dict().items() if "bias_k" not in k and "bias_v" not in k}
    plain.load_state_dict(state)
    out = module(x, stored_pattern_padding_mask=pad)
    assert max_diff(out, plain(x, stored_pattern_padding_mask=pad)) > 1e-3
    out.pow(2).sum().backward()
    for name in ("bias_k", "bias_v"):
        grad = getattr(module.association_core, name).grad
        assert grad is not None and grad.abs().max().item() > 0, name


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.int64])
def test_integer_masks_act_as_the_bool_mask(dtype):
    """#3, #4: non-zero = ignore, for both masks, in both association-mask shapes, on both paths."""
    x = (rand(2, 6, 8, seed=15), rand(2, 4, 8, seed=16), rand(2, 6, 8, seed=17))
    pad = padding(2, 6)
    for eps in (1e-4, None):
        module = build(input_size=8, num_heads=2, update_steps_max=1, update_steps_eps=eps)
        for shape in ((4, 6), (4, 4, 6)):
            assoc = association_mask(shape)
            want = module(x, stored_pattern_padding_mask=pad, association_mask=assoc)
            got = module(x, stored_pattern_padding_mask=pad.to(dtype) * 3, association_mask=assoc.to(dtype))
            assert torch.equal(got, want)


def test_hopfield_space_norm_with_heads_and_affine():
    """#5: the per-head LayerNorm's affine is sized by the head dimension; #6: the properties exist."""
    module = build(
        input_size=8, num_heads=2, normalize_hopfield_space=True, normalize_hopfield_space_affine=True
    )
    assert module.association_core.p_norm_weight.shape == (4,)
    assert module.normalize_hopfield_space is True and module.normalize_hopfield_space_affine is True
    assert torch.isfinite(module(rand(2, 5, 8, seed=18))).all()
    plain = Hopfield(input_size=8, num_heads=2, normalize_hopfield_space=True)
    _, xi, _ = plain.double().trajectory(rand(2, 5, 8, seed=18))
    assert max_diff(xi.mean(-1), torch.zeros(2, 2, 5, dtype=F64)) <= 1e-12  # normalised per head
    default = Hopfield(input_size=8)
    assert default.normalize_hopfield_space is False and default.normalize_hopfield_space_affine is False


def test_pooling_sequence_first_equals_batch_first():
    """#7: (T, B, E) input gives (B, Q * out), equal to the batch-first module on the transposed input."""
    kw = {"input_size": 8, "num_heads": 2, "quantity": 3, "update_steps_max": 1}
    batch_first = build(HopfieldPooling, **kw)
    seq_first = build(HopfieldPooling, **kw, batch_first=False)
    seq_first.load_state_dict(batch_first.state_dict())
    x, pad = rand(2, 5, 8, seed=19), padding(2, 5)
    want = batch_first(x, stored_pattern_padding_mask=pad)
    got = seq_first(x.transpose(0, 1), stored_pattern_padding_mask=pad)
    assert want.shape == got.shape == (2, 3 * 8)
    assert max_diff(got, want) <= 1e-15
    assert (
        max_diff(
            seq_first.association(x.transpose(0, 1), stored_pattern_padding_mask=pad),
            batch_first.association(x, stored_pattern_padding_mask=pad),
        )
        <= 1e-15
    )


def test_unknown_activation_is_an_error_and_a_known_one_applies():
    """#8: a misspelled name raises, naming it; a known one is applied to the output."""
    with pytest.raises(ValueError, match="'relux'"):
        Hopfield(input_size=8, association_activation="relux")
    with pytest.raises(ValueError, match="'relux'"):
        HopfieldPooling(input_size=8, association_activation="relux")
    relu = build(input_size=8, association_activation="relu")
    plain = build(input_size=8)
    x = rand(2, 5, 8, seed=20)
    assert torch.equal(relu(x), torch.relu(plain(x)))


# --- clear errors ----------------------------------------------------------------------------------------------
def test_wrong_shapes_and_masks_are_clear_errors():
    module = build(input_size=8, num_heads=2)
    x, y = rand(2, 5, 8), rand(2, 4, 8)
    cases = [
        (lambda: module(rand(5, 8)), "stored_pattern: must be 3-D"),
        (lambda: module(rand(2, 5, 7)), "features must be 8, got 7"),
        (lambda: module((x, rand(3, 4, 8), x)), "batch sizes differ"),
        (lambda: module((x, y, rand(2, 4, 8))), "pattern_projection: must hold one row per stored pattern"),
        (lambda: module((x, y)), "input: must be a tensor or a tuple"),
        (
            lambda: module(x, stored_pattern_padding_mask=padding(2, 4)),
            r"stored_pattern_padding_mask: .*\(2, 5\)",
        ),
        (lambda: module(x, stored_pattern_padding_mask=padding(5, 2)), "stored_pattern_padding_mask"),
        (lambda: module(x, association_mask=association_mask((5, 4))), r"association_mask: .*\(5, 5\)"),
        (
            lambda: module(x, association_mask=association_mask((2, 5, 5))),
            r"association_mask: .*got \(2, 5, 5\)",
        ),
        (
            lambda: module(x, stored_pattern_padding_mask=torch.zeros(2, 5, dtype=torch.complex64)),
            "stored_pattern_padding_mask: must be bool, integer or float",
        ),
        (
            lambda: HopfieldLayer(input_size=8, quantity=3).double()((x, x, x)),
            "input: must be one 3-D tensor",
        ),
        (lambda: HopfieldPooling(input_size=8).double()(rand(5, 8)), "stored_pattern: must be 3-D"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_size": 8, "num_heads": 3}, "num_heads: must divide input_size"),
        ({"input_size": 8, "num_heads": 0}, "num_heads"),
        (
            {"input_size": 8, "num_heads": 2, "scaling": [1.0, 2.0, 3.0]},
            "scaling: needs one value or one per head",
        ),
        ({"input_size": 8, "scaling": -1.0}, "scaling: every beta must be finite and > 0"),
        ({"input_size": 8, "scaling": 1.0, "beta": 1.0}, "beta"),
        ({"input_size": 8, "update_steps_max": -1}, "update_steps_max"),
        ({"input_size": 8, "update_steps_max": None, "update_steps_eps": None}, "update_steps_max: None"),
        ({"input_size": 8, "update_steps_eps": -1e-3}, "update_steps_eps"),
        ({"input_size": 8, "dropout": 1.0}, "dropout"),
        ({}, "input_size"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Hopfield(**kwargs)


def test_bad_quantity_is_a_clear_error():
    with pytest.raises(ValueError, match="quantity"):
        HopfieldPooling(input_size=8, quantity=0)


# --- pure memory (the blog) and convergence --------------------------------------------------------------------
def test_pure_memory_retrieves_a_corrupted_pattern_exactly():
    """d=64, N=20 random +-1 patterns, each queried with 25% of its bits flipped; beta=8, one softmax: the stored
    pattern comes back exactly (float32, as in the blog)."""
    g = torch.Generator().manual_seed(0)
    patterns = torch.randint(0, 2, (20, 64), generator=g).float() * 2 - 1
    queries = patterns.clone()
    for row in queries:
        row[torch.randperm(64, generator=g)[:16]] *= -1
    assert bool(((queries != patterns).sum(-1) == 16).all())
    module = Hopfield.pure_memory(scaling=8)
    out = module((patterns[None], queries[None], patterns[None]))
    assert out.dtype == torch.float32 and out.shape == (1, 20, 64)
    assert torch.equal(out[0], patterns)
    assert torch.equal(
        module.association((patterns[None], queries[None], patterns[None]))[0, 0], torch.eye(20)
    )


def test_update_steps_none_converges():
    """steps None with eps: stops once max_b ||p_t - p_(t-1)||_F <= eps, well before the cap; a fixed point."""
    module = Hopfield.pure_memory(scaling=1.0, update_steps_max=None, update_steps_eps=1e-10).double()
    patterns, query = rand(2, 10, 6, seed=21), rand(2, 3, 6, seed=22)
    p, xi, counts = module.trajectory((patterns, query, patterns))
    assert 3 < counts.item() < update.CONVERGENCE_CAP
    p_next = update.association_probabilities(p @ patterns[:, None], patterns[:, None], module.scaling, None)
    assert (p_next - p).flatten(2).norm(dim=-1).max().item() <= 1e-10
    assert max_diff(xi, query[:, None]) > 1e-3  # the state did move


def test_update_steps_none_is_capped(monkeypatch):
    """eps that rounding never meets (hflayers loops for ever there): the loop ends at the cap."""
    monkeypatch.setattr(update, "CONVERGENCE_CAP", 7)
    module = Hopfield.pure_memory(scaling=0.5, update_steps_max=None, update_steps_eps=0.0).double()
    patterns, query = rand(2, 10, 6, seed=23), rand(2, 3, 6, seed=24)
    _, _, counts = module.trajectory((patterns, query, patterns))
    assert counts.tolist() == [8]
    assert torch.isfinite(module((patterns, query, patterns))).all()


def test_update_steps_none_float32_tiny_eps_terminates():
    module = Hopfield.pure_memory(scaling=2.0, update_steps_max=None, update_steps_eps=1e-30)
    patterns, query = rand(1, 6, 4, seed=25, dtype=torch.float32), rand(1, 2, 4, seed=26, dtype=torch.float32)
    _, _, counts = module.trajectory((patterns, query, patterns))
    assert 1 < counts.item() <= update.CONVERGENCE_CAP + 1


@pytest.mark.parametrize("pattern_size", [3, 8], ids=["narrower_values", "wider_values"])
def test_fast_path_with_another_value_width(pattern_size):
    """pattern_size != hidden_size: the fast path pads the narrower side with zeros (for torch's fused kernel)
    and still equals the explicit path, gradients included."""
    kw = {
        "input_size": 8,
        "num_heads": 2,
        "hidden_size": 4,
        "pattern_size": pattern_size,
        "update_steps_max": 1,
    }
    fast = build(**kw, update_steps_eps=None)
    explicit = build(**kw, update_steps_eps=0.0)
    explicit.load_state_dict(fast.state_dict())
    x = rand(2, 5, 8, seed=27)
    masks = {"stored_pattern_padding_mask": padding(2, 5), "association_mask": association_mask((5, 5))}
    leaf_fast, leaf_explicit = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_fast, out_explicit = fast(leaf_fast, **masks), explicit(leaf_explicit, **masks)
    assert out_fast.shape == (2, 5, 8)
    assert max_diff(out_fast, out_explicit) <= 1e-12
    out_fast.pow(2).sum().backward()
    out_explicit.pow(2).sum().backward()
    assert max_diff(leaf_fast.grad, leaf_explicit.grad) <= 1e-10
