"""The layers against a float64 explicit-loop reference written from the paper (tests/nn/reference.py).

Every case: random parameters (every state_dict entry N(0, 0.3), LayerNorm affines included), random inputs and
masks; output, final association, per-head softmax count and the energies (Eq. 2) before and after the updates
agree with the reference to <= 1e-12. The cases cover heads, hidden/pattern sizes, differing input depths, both
masks in both shapes, 0..3 updates on the fast path (eps None) and the explicit path, convergence (steps None),
per-head beta, the bias and zero rows, connected values, the Hopfield-space norm, no biases / no affine / no
output map, sequence-first input, the pure-memory preset, HopfieldPooling and HopfieldLayer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest
import torch

from hopfield_cli.nn import Hopfield, HopfieldLayer, HopfieldPooling
from tests.nn import reference
from tests.nn.reference import Spec, randomize

TOL = 1e-12


@dataclass
class Case:
    name: str
    kwargs: dict
    spec: Spec
    depths: tuple[int, int, int] = (8, 8, 8)  # stored, state, projection
    batch: int = 2
    stored: int = 6
    state: int = 4
    masks: tuple[str, ...] = ()  # "pad", "assoc" (L, S), "assoc3" (B * H, L, S)
    form: str = "tuple"  # "tuple", "tensor" (self-association), "pooling", "layer"
    extra: dict = field(default_factory=dict)


def _beta(value: float, heads: int) -> list[float]:
    return [value] * heads


PURE = dict(
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
)
PURE_SPEC = dict(normalize=(False, False, False), static=(True, True, True))

CASES = [
    Case("h1_self", {"input_size": 8}, Spec(1, _beta(8**-0.5, 1)), form="tensor", stored=5, state=5),
    Case(
        "h4_cross_sizes",
        {
            "input_size": 8,
            "num_heads": 4,
            "stored_pattern_size": 6,
            "pattern_projection_size": 5,
            "output_size": 3,
        },
        Spec(4, _beta(0.5**0.5, 4)),
        depths=(6, 8, 5),
    ),
    Case(
        "h4_hidden_pattern",
        {"input_size": 8, "num_heads": 4, "hidden_size": 3, "pattern_size": 2, "output_size": 5},
        Spec(4, _beta(3**-0.5, 4)),
    ),
    Case(
        "h2_steps2_eps_padmask",
        {"input_size": 8, "num_heads": 2, "update_steps_max": 2, "update_steps_eps": 1e-4, "scaling": 1.5},
        Spec(2, _beta(1.5, 2), steps_max=2, eps=1e-4),
        masks=("pad",),
    ),
    Case(
        "h2_steps3_fast_assoc",
        {"input_size": 8, "num_heads": 2, "update_steps_max": 3, "update_steps_eps": None},
        Spec(2, _beta(0.5, 2), steps_max=3, eps=None),
        masks=("assoc", "pad"),
        form="tensor",
        stored=5,
        state=5,
    ),
    Case(
        "h2_per_head_beta_assoc3",
        {
            "input_size": 8,
            "num_heads": 2,
            "update_steps_max": 2,
            "update_steps_eps": None,
            "scaling": [0.5, 3.0],
        },
        Spec(2, [0.5, 3.0], steps_max=2, eps=None),
        masks=("assoc3",),
    ),
    Case(
        "h2_per_head_beta_explicit",
        {
            "input_size": 8,
            "num_heads": 2,
            "update_steps_max": 1,
            "update_steps_eps": 0.0,
            "scaling": [2.0, 0.25],
        },
        Spec(2, [2.0, 0.25], steps_max=1, eps=0.0),
        masks=("pad", "assoc"),
    ),
    Case(
        "h2_converge",
        {"input_size": 8, "num_heads": 2, "update_steps_max": None, "update_steps_eps": 1e-8, "scaling": 2.0},
        Spec(2, _beta(2.0, 2), steps_max=None, eps=1e-8),
    ),
    Case(
        "zero_association_padmask",
        {"input_size": 8, "num_heads": 2, "add_zero_association": True, "update_steps_max": 1},
        Spec(2, _beta(0.5, 2), steps_max=1, add_zero_association=True),
        masks=("pad",),
    ),
    Case(
        "bias_pattern_padmask",
        {
            "input_size": 8,
            "num_heads": 2,
            "concat_bias_pattern": True,
            "update_steps_max": 1,
            "update_steps_eps": None,
        },
        Spec(2, _beta(0.5, 2), steps_max=1, eps=None),
        masks=("pad",),
    ),
    Case(
        "connected",
        {
            "input_size": 8,
            "num_heads": 2,
            "stored_pattern_size": 6,
            "pattern_projection_size": 6,
            "pattern_projection_as_connected": True,
            "update_steps_max": 1,
        },
        Spec(2, _beta(0.5, 2), steps_max=1, connected=True),
        depths=(6, 8, 6),
    ),
    Case(
        "hopfield_space_norm",
        {
            "input_size": 8,
            "num_heads": 2,
            "normalize_hopfield_space": True,
            "normalize_hopfield_space_affine": True,
            "update_steps_max": 1,
        },
        Spec(2, _beta(0.5, 2), steps_max=1, hopfield_space_norm=True),
    ),
    Case(
        "no_bias_no_affine_no_out",
        {
            "input_size": 8,
            "num_heads": 2,
            "scaling": 1.5,
            "input_bias": False,
            "normalize_stored_pattern_affine": False,
            "normalize_state_pattern_affine": False,
            "normalize_pattern_projection_affine": False,
            "disable_out_projection": True,
            "update_steps_max": 2,
        },
        Spec(2, _beta(1.5, 2), steps_max=2),
    ),
    Case(
        "seq_first_padmask",
        {"input_size": 8, "num_heads": 2, "batch_first": False, "update_steps_max": 1},
        Spec(2, _beta(0.5, 2), steps_max=1),
        masks=("pad",),
    ),
    Case("pure_memory", {**PURE, "scaling": 8.0}, Spec(1, [8.0], **PURE_SPEC), stored=10),
    Case(
        "pure_memory_steps2_fast",
        {**PURE, "scaling": 2.0, "update_steps_max": 2, "update_steps_eps": None},
        Spec(1, [2.0], steps_max=2, eps=None, **PURE_SPEC),
        masks=("pad",),
        stored=10,
    ),
    Case(
        "pure_memory_converge",
        {**PURE, "scaling": 2.0, "update_steps_max": None, "update_steps_eps": 1e-12},
        Spec(1, [2.0], steps_max=None, eps=1e-12, **PURE_SPEC),
        stored=10,
    ),
    Case(
        "pure_memory_two_heads",
        {**PURE, "num_heads": 2, "scaling": [1.0, 4.0], "update_steps_max": 1},
        Spec(2, [1.0, 4.0], steps_max=1, **PURE_SPEC),
        masks=("assoc3",),
    ),
    Case(
        "pooling",
        {"input_size": 8, "num_heads": 2, "quantity": 3, "update_steps_max": 1},
        Spec(2, _beta(0.5, 2), steps_max=1),
        masks=("pad",),
        form="pooling",
        state=3,
    ),
    Case(
        "layer_separated",
        {
            "input_size": 8,
            "num_heads": 2,
            "quantity": 5,
            "lookup_weights_as_separated": True,
            "update_steps_max": 1,
        },
        Spec(2, _beta(0.5, 2), steps_max=1),
        form="layer",
        stored=5,
    ),
]


def _masks(case: Case, g: torch.Generator) -> dict[str, torch.Tensor]:
    b, s, q, h = case.batch, case.stored, case.state, case.spec.heads
    masks = {}
    if "pad" in case.masks:
        pad = torch.zeros(b, s, dtype=torch.bool)
        pad[-1, -2:] = True
        masks["stored_pattern_padding_mask"] = pad
    if "assoc" in case.masks or "assoc3" in case.masks:
        shape = (q, s) if "assoc" in case.masks else (b * h, q, s)
        assoc = torch.rand(shape, generator=g) < 0.35
        assoc[..., 0] = False  # every state keeps at least one stored pattern
        masks["association_mask"] = assoc
    return masks


def _lists(x: torch.Tensor) -> list:
    return x.tolist()


def run_case(case: Case, seed: int = 0):
    g = torch.Generator().manual_seed(1000 + seed)
    cls = {"pooling": HopfieldPooling, "layer": HopfieldLayer}.get(case.form, Hopfield)
    module = cls(**case.kwargs).double().eval()
    randomize(module, seed)
    hop = module if isinstance(module, Hopfield) else module.hopfield
    d_stored, d_state, d_proj = case.depths
    stored = torch.randn(case.batch, case.stored, d_stored, generator=g, dtype=torch.float64)
    state = torch.randn(case.batch, case.state, d_state, generator=g, dtype=torch.float64)
    projection = torch.randn(case.batch, case.stored, d_proj, generator=g, dtype=torch.float64)
    if case.form == "tensor":
        stored = state = projection
    masks = _masks(case, g)

    if case.form == "pooling":
        arg = projection = stored
        state = module.pooling_weights.detach().expand(case.batch, -1, -1)
    elif case.form == "layer":
        arg = state
        stored = module.lookup_weights.detach().expand(case.batch, -1, -1)
        projection = module.target_weights.detach().expand(case.batch, -1, -1)
    elif case.form == "tensor":
        arg = stored
    else:
        arg = (stored, state, projection)
    if not hop.batch_first:
        arg = arg.transpose(0, 1) if isinstance(arg, torch.Tensor) else tuple(t.transpose(0, 1) for t in arg)

    with torch.no_grad():
        out = module(arg, **masks)
        association = module.association(arg, **masks)
        inner = arg if module is hop else module._inputs(arg)
        _, _, counts = hop.trajectory(inner, **masks)
        e_initial = hop.energy(inner, **masks, initial=True)
        e_final = hop.energy(inner, **masks)
    if case.form == "pooling":
        out = out.view(case.batch, case.state, -1)
    elif not hop.batch_first:
        out = out.transpose(0, 1)

    params = {name: _lists(value) for name, value in hop.state_dict().items()}
    ref_masks = {
        "padding_mask": _lists(masks["stored_pattern_padding_mask"])
        if "stored_pattern_padding_mask" in masks
        else None,
        "association_mask": _lists(masks["association_mask"]) if "association_mask" in masks else None,
    }
    want = reference.hopfield(
        params, case.spec, _lists(stored), _lists(state), _lists(projection), **ref_masks
    )
    return out, association, counts, e_initial, e_final, want


def max_diff(got: torch.Tensor, want: list) -> float:
    return (got - torch.tensor(want, dtype=torch.float64)).abs().max().item()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_layer_equals_the_explicit_loop_reference(case):
    out, association, counts, e_initial, e_final, want = run_case(case)
    assert out.shape == torch.Size([len(want.output), len(want.output[0]), len(want.output[0][0])])
    assert max_diff(out, want.output) <= TOL
    assert max_diff(association, want.association) <= TOL
    assert counts.tolist() == want.counts
    assert max_diff(e_initial, reference.energies(want, case.spec.beta, initial=True)) <= TOL
    assert max_diff(e_final, reference.energies(want, case.spec.beta)) <= TOL


def test_the_cases_do_update_and_converge():
    """The reference is not vacuous: the update cases change the state, the convergence cases stop early."""
    _, _, _, e0, e1, want = run_case(next(c for c in CASES if c.name == "h2_steps3_fast_assoc"))
    assert want.counts == [4, 4]
    assert (e0 - e1).max().item() > 1e-3
    *_, want = run_case(next(c for c in CASES if c.name == "pure_memory_converge"))
    assert all(3 < n < 1000 for n in want.counts)


@pytest.mark.parametrize("steps", [0, 1, 3])
def test_the_reference_catches_a_changed_update_count(steps):
    case = next(c for c in CASES if c.name == "h2_steps2_eps_padmask")
    kwargs = {**case.kwargs, "update_steps_max": steps}
    changed = Case(case.name, kwargs, Spec(2, case.spec.beta, steps_max=steps, eps=1e-4), masks=case.masks)
    out, *_, want = run_case(changed)
    assert max_diff(out, want.output) <= TOL
    original, *_ = run_case(case)
    assert (out - original).abs().max().item() > 1e-6


def test_reference_softmax_is_the_textbook_one():
    p = reference.softmax([0.0, math.log(3.0), 5.0], [True, True, False])
    assert p == pytest.approx([0.25, 0.75, 0.0], abs=1e-15)
