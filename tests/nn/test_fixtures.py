"""The layers against the official module: 19 golden cases of hflayers (tests/nn/fixtures, copied from
shared/fixtures/hflayers: numbers its code produced, float64, with each case's constructor arguments).

Every case: output and association <= 1e-10 in float64, projected patterns too, the softmax count per head
exact, gradients <= 1e-8 relative (three cases), and float32 <= 1e-5. A deliberate change of the update count or
of the mask polarity must break them (the last tests), so these tests can fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hopfield_cli.nn import Hopfield, HopfieldLayer, HopfieldPooling

FIXTURES = Path(__file__).parent / "fixtures"
CASES = json.loads((FIXTURES / "cases.json").read_text())["cases"]
CLASSES = {"Hopfield": Hopfield, "HopfieldPooling": HopfieldPooling, "HopfieldLayer": HopfieldLayer}
ROLES = {
    "tensor": ["input"],
    "tuple3": ["stored_pattern", "state_pattern", "pattern_projection"],
    "tuple2": ["stored_pattern", "pattern_projection"],
}
MASK_MODULES = {"stored_pattern_padding_mask", "association_mask"}


def build(case: dict, dtype: torch.dtype = torch.float64, **changes) -> tuple:
    tensors = load_file(str(FIXTURES / f"{case['name']}.safetensors"))
    kwargs = {**case["constructor_kwargs"], **changes}
    module = CLASSES[case["class"]](**kwargs).to(dtype).eval()
    state = {k[len("param:") :]: v.to(dtype) for k, v in tensors.items() if k.startswith("param:")}
    module.load_state_dict(state, strict=True)
    inputs = {k: v.to(dtype) for k, v in tensors.items() if k.startswith("input:")}
    masks = {name: tensors[ref] for name, ref in case["forward"]["kwargs"].items()}
    return module, tensors, inputs, masks


def call(case: dict, fn, inputs: dict, masks: dict):
    form = case["forward"]["form"]
    args = [inputs[f"input:{role}"] for role in ROLES[form]]
    return fn(args[0] if form == "tensor" else tuple(args), **masks)


def hopfield_of(module):
    return module if isinstance(module, Hopfield) else module.hopfield


def trajectory_input(module, case, inputs):
    """The (stored, state, projection) tuple a Pooling/Layer hands its inner Hopfield."""
    form = case["forward"]["form"]
    args = [inputs[f"input:{role}"] for role in ROLES[form]]
    arg = args[0] if form == "tensor" else tuple(args)
    return arg if isinstance(module, Hopfield) else module._inputs(arg)


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_float64(case):
    module, tensors, inputs, masks = build(case)
    with torch.no_grad():
        out = call(case, module, inputs, masks)
        association = call(case, module.association, inputs, masks)
        inner = trajectory_input(module, case, inputs)
        _, _, counts = hopfield_of(module).trajectory(inner, **masks)
        projected = hopfield_of(module).projected_pattern_matrix(inner)
    assert out.shape == tensors["output"].shape
    assert max_diff(out, tensors["output"]) <= 1e-10
    assert max_diff(association, tensors["association"]) <= 1e-10
    assert max_diff(projected, tensors["projected_pattern"]) <= 1e-10
    assert counts.tolist() == case["derived"]["softmax_applications_per_head"]
    assert torch.allclose(hopfield_of(module).scaling, torch.tensor(case["derived"]["scaling_beta"]).double())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case_float32(case):
    module, tensors, inputs, masks = build(case, torch.float32)
    with torch.no_grad():
        out = call(case, module, inputs, masks)
        association = call(case, module.association, inputs, masks)
    assert out.dtype == torch.float32
    assert max_diff(out, tensors["output"]) <= 1e-5
    assert max_diff(association, tensors["association"]) <= 1e-5


GRADIENT_CASES = [c for c in CASES if "gradients" in c]


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[c["name"] for c in GRADIENT_CASES])
def test_case_gradients(case):
    module, tensors, inputs, masks = build(case)
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    loss = (call(case, module, leaves, masks) * tensors["loss_weight"]).sum()
    assert abs(loss.item() - tensors["loss"].item()) <= 1e-10
    params = dict(module.named_parameters())
    names = [k for k in tensors if k.startswith("grad:")]
    wrt = [
        params[n[len("grad:param:") :]] if n.startswith("grad:param:") else leaves[n[len("grad:") :]]
        for n in names
    ]
    grads = torch.autograd.grad(loss, wrt, allow_unused=True)
    assert len(names) >= 4
    for name, grad in zip(names, grads, strict=True):
        want = tensors[name]
        got = torch.zeros_like(want) if grad is None else grad
        rel = (got - want).abs().max().item() / max(want.abs().max().item(), 1e-300)
        assert rel <= 1e-8, name


def _case(name: str) -> dict:
    return next(c for c in CASES if c["name"] == name)


@pytest.mark.parametrize("name", ["hopfield_h2_steps3", "hopfield_h4_steps1_padmask", "layer_separated"])
@pytest.mark.parametrize("shift", [-1, 1])
def test_a_changed_update_count_breaks_the_fixture(name, shift):
    case = _case(name)
    steps = case["constructor_kwargs"]["update_steps_max"] + shift
    module, tensors, inputs, masks = build(case, update_steps_max=steps)
    with torch.no_grad():
        out = call(case, module, inputs, masks)
    assert max_diff(out, tensors["output"]) > 1e-6


@pytest.mark.parametrize("name", ["hopfield_h4_steps1_padmask", "hopfield_h2_assoc_mask", "pooling_q1"])
def test_a_flipped_mask_polarity_breaks_the_fixture(name):
    case = _case(name)
    module, tensors, inputs, masks = build(case)
    # the polarity of scaled_dot_product_attention's boolean mask (True = take part) instead of hflayers'
    flipped = {
        k: ~v if k != "stored_pattern_padding_mask" else ~v | v.all(-1, keepdim=True)
        for k, v in masks.items()
    }
    with torch.no_grad():
        out = call(case, module, inputs, flipped)
    assert not torch.isfinite(out).all() or max_diff(out, tensors["output"]) > 1e-6
