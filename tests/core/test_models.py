"""The model registry (names -> families, parameter checks) and the +-1 gate of the binary families."""

from __future__ import annotations

import pytest
import torch

from hopfield_cli.core.base import HopfieldModel
from hopfield_cli.core.errors import CoreError
from hopfield_cli.core.models import BINARY_MODELS, MODEL_NAMES, build_model, check_binary


def test_registry_builds_every_family():
    """The five families of the paper's comparisons are registered (a new family may join them)."""
    assert {"modern", "classical", "dense", "exponential", "sparse"} <= set(MODEL_NAMES)
    assert {"classical", "dense", "exponential"} <= BINARY_MODELS and "modern" not in BINARY_MODELS
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


# --- the family registry: the core's records and the config's option schemas name the same families ----------


def registry_disagreements(records, model_options) -> list[str]:
    """Where the core registry (core.models.FAMILIES) and the config's model options (config.options.GROUPS)
    disagree: names, beta, and every field a record maps to a config field (and its constructor parameter)."""
    import dataclasses

    from hopfield_cli.core.models import model_class

    problems = []
    if list(records) != list(model_options):
        problems.append(f"names: core {list(records)} vs config {list(model_options)}")
    for name in set(records) & set(model_options):
        record, schema = records[name], model_options[name]
        if record.has_beta != schema.has_beta:
            problems.append(f"{name}: has_beta core {record.has_beta} vs config {schema.has_beta}")
        config_fields = {f.name for f in dataclasses.fields(schema)} - {"name"}
        if set(record.fields.values()) != config_fields:
            problems.append(
                f"{name}: fields core {sorted(record.fields.values())} vs config {sorted(config_fields)}"
            )
        init = {f.name for f in dataclasses.fields(model_class(name)) if f.init}
        if not set(record.fields) <= init:
            problems.append(f"{name}: parameters {sorted(set(record.fields) - init)} not taken by its class")
    return problems


def test_the_core_registry_and_the_config_name_the_same_families():
    from hopfield_cli.config.options import GROUPS
    from hopfield_cli.core.models import FAMILIES

    assert registry_disagreements(FAMILIES, GROUPS["model"]) == []


def test_the_registry_test_fails_when_config_and_core_disagree():
    import dataclasses

    from hopfield_cli.config.options import GROUPS
    from hopfield_cli.core.models import FAMILIES

    renamed = {**FAMILIES, "dense": dataclasses.replace(FAMILIES["dense"], fields={"n": "order"})}
    assert any("dense: fields" in p for p in registry_disagreements(renamed, GROUPS["model"]))
    no_beta = {**FAMILIES, "sparse": dataclasses.replace(FAMILIES["sparse"], has_beta=False)}
    assert any("sparse: has_beta" in p for p in registry_disagreements(no_beta, GROUPS["model"]))
    extra = {**FAMILIES, "annealed": FAMILIES["modern"]}
    assert any(p.startswith("names:") for p in registry_disagreements(extra, GROUPS["model"]))


def test_every_list_of_families_is_the_registry():
    from hopfield_cli.config.options import BETA_FAMILIES
    from hopfield_cli.config.options import FAMILIES as CONFIG_FAMILIES
    from hopfield_cli.core.models import BETA_MODELS, EXPONENTIAL_MODELS, FAMILIES, MODEL_NAMES
    from hopfield_cli.experiments.capacity_sweep.table import EXPONENTIAL_FAMILIES
    from hopfield_cli.experiments.reproduce.core_claims import ENERGY_FAMILIES

    assert MODEL_NAMES == tuple(FAMILIES) == CONFIG_FAMILIES == ENERGY_FAMILIES
    assert BETA_MODELS == BETA_FAMILIES and EXPONENTIAL_FAMILIES == EXPONENTIAL_MODELS
