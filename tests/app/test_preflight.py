"""The sweep check: jobs that only change values share one Hydra composition and get the config Hydra gives them."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from hopfield_cli.app.check import preflight
from hopfield_cli.app.check.compose import compose, create_hydra
from hopfield_cli.app.commands import COMMANDS


def _task(cfg) -> dict:
    """The composed config without Hydra's node (which records the overrides), interpolations resolved."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)


@pytest.mark.parametrize(
    ("config_name", "fixed", "first", "job"),
    [
        ("retrieve", ["num_patterns=8"], ["seed=0", "beta=1"], ["seed=7", "beta=2.5"]),
        ("retrieve", ["model=dense"], ["model.n=3", "corruption.p=0.1"], ["model.n=5", "corruption.p=0.3"]),
        ("capacity_sweep", ["models=[modern,dense]"], ["families.dense.n=3"], ["families.dense.n=6"]),
        ("capacity_sweep", [], ["dims=[8]", "betas=[1.0]"], ["dims=[16,32]", "betas=[2.0,4.0]"]),
        (
            "metastable_scan",
            ["patterns=correlated"],
            ["patterns.correlation=0.1"],
            ["patterns.correlation=0.9"],
        ),
    ],
)
def test_a_value_job_is_the_composition_hydra_gives_it(config_name, fixed, first, job):
    hydra = create_hydra(None)
    shared = compose(hydra, config_name, [*fixed, *first])
    parsed = preflight._plain_values(job, shared)
    assert parsed is not None
    reused = preflight._with_values(shared, parsed)
    assert _task(reused) == _task(compose(hydra, config_name, [*fixed, *job]))
    assert OmegaConf.get_type(reused) is OmegaConf.get_type(shared)
    assert _task(shared) == _task(compose(hydra, config_name, [*fixed, *first])), "the shared one was changed"


@pytest.mark.parametrize(
    "job",
    [
        ["model=dense"],
        ["experiment=capacity_sphere"],
        ["hydra/launcher=joblib"],
        ["+extra=1"],
        ["~seed"],
        ["hydra.job.name=x"],
        ["seed=1", "patterns=gaussian"],
    ],
)
def test_groups_additions_deletions_and_hydra_keys_compose_each_job(job):
    hydra = create_hydra(None)
    assert preflight._plain_values(job, compose(hydra, "retrieve", [])) is None


def test_a_bad_value_in_a_shared_composition_is_one_line_naming_the_field():
    hydra = create_hydra(None)
    shared = compose(hydra, "retrieve", ["seed=1"])
    with pytest.raises(preflight.UsageError) as error:
        preflight._with_values(shared, preflight._plain_values(["seed=abc"], shared))
    assert error.value.field == "seed" and "abc" in error.value.message


def test_a_sweep_of_value_jobs_composes_once_and_names_the_bad_job(monkeypatch):
    hydra = create_hydra(None)
    calls = []
    real = preflight.compose
    monkeypatch.setattr(preflight, "compose", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    with pytest.raises(preflight.UsageError) as error:
        preflight.check_sweep(hydra, COMMANDS["retrieve"], "retrieve", ["num_patterns=8", "seed=1,2,3,-1"])
    assert error.value.field == "seed" and "(in the sweep job seed=-1)" in error.value.message
    assert calls == [["num_patterns=8", "seed=1"]]
    calls.clear()
    preflight.check_sweep(hydra, COMMANDS["retrieve"], "retrieve", ["num_patterns=8", "model=modern,dense"])
    assert len(calls) == 2
