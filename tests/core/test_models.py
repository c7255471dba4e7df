"""The model registry (names -> families, parameter checks) and the +-1 gate of the binary families."""

from __future__ import annotations

import pytest
import torch

from hopfield_cli.core.base import HopfieldModel
from hopfield_cli.core.errors import CoreError
from hopfield_cli.core.models import BINARY_MODELS, MODEL_NAMES, build_model, check_binary


def test_registry_builds_every_family():
    assert MODEL_NAMES == ("modern", "classical", "dense", "exponential", "sparse")
    assert BINARY_MODELS == {"classical", "dense", "exponential"}
    for name, params in [
        ("classical", {"update": "sync", "seed": 3}),
        ("dense", {"n": 4, "rectified": True}),
        ("exponential", {"beta": 2.0}),
        ("sparse", {"beta": 1.0, "alpha": 1.5}),
    ]:
        model = build_model(name, **params)
        assert model.name == name and isinstance(model, HopfieldModel)


@pytest.mark.parametrize(
    "name, params, param, fragment",
    [
        ("hebb", {}, "model", "allowed: modern, classical, dense, exponential, sparse"),
        ("classical", {"beta": 1.0}, "model", "allowed: update, seed"),
        ("sparse", {}, "model", "allowed: beta, alpha"),
        ("classical", {"update": "parallel"}, "update_rule", "async, sync"),
        ("sparse", {"beta": 1.0, "alpha": 1.0}, "alpha", "model=modern"),
        ("exponential", {"beta": 0.0}, "beta", "> 0"),
        ("modern", {"beta": -1.0}, "beta", "positive finite"),
        ("dense", {"n": 0}, "n", ">= 1"),
    ],
)
def test_registry_rejects_bad_names_and_parameters(name, params, param, fragment):
    with pytest.raises(CoreError) as info:
        build_model(name, **params)
    assert info.value.param == param and fragment in info.value.message
    assert str(info.value) == info.value.message


@pytest.mark.parametrize("name", sorted(BINARY_MODELS))
def test_binary_families_refuse_non_binary_patterns_unless_binarise(name):
    patterns = torch.tensor([[0.5, -2.0], [1.0, 0.0]])
    queries = torch.tensor([[1.0, -1.0]])
    with pytest.raises(CoreError) as info:
        check_binary(patterns, queries, binarise=False, model_name=name)
    assert info.value.param == "patterns"
    assert f"model {name} needs +-1 patterns; got values in [-2, 1]; set binarise=true" in info.value.message
    with pytest.raises(CoreError) as info:
        check_binary(queries, patterns, binarise=False, model_name=name)
    assert info.value.param == "queries"
    signed, same = check_binary(patterns, queries, binarise=True, model_name=name)
    assert signed.tolist() == [[1.0, -1.0], [1.0, 1.0]] and torch.equal(same, queries)


def test_continuous_families_pass_through_the_gate():
    patterns, queries = torch.randn(3, 4), torch.randn(2, 4)
    for name in ("modern", "sparse"):
        out = check_binary(patterns, queries, binarise=False, model_name=name)
        assert out[0] is patterns and out[1] is queries
