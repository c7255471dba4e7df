"""One schema per group option: a run's config holds only the fields its options use, and refuses the rest."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from hopfield_cli.config import check_values
from hopfield_cli.config.commands import COMMAND_SCHEMAS, Families
from hopfield_cli.config.options import GROUPS, DenseModel, ModernModel
from hopfield_cli.errors import UsageError
from tests.conftest import assert_one_clean_line, compose


def test_cfg_job_shows_only_the_fields_modern_uses(run_cli):
    proc = run_cli("retrieve", "--cfg", "job")
    assert proc.returncode == 0, proc.stderr
    cfg = yaml.safe_load(proc.stdout)
    assert cfg["model"] == {"name": "modern"}
    assert cfg["patterns"] == {"name": "binary"} and set(cfg["corruption"]) == {"name", "p"}
    assert "out" not in cfg and "binarise" not in cfg["model"]
    assert set(cfg) == {f.name for f in dataclasses.fields(COMMAND_SCHEMAS["retrieve"])}


@pytest.mark.parametrize(
    ("command", "override", "field", "words"),
    [
        ("retrieve", "model.n=7", "model.n", "unknown key for model=modern"),
        ("store", "patterns.radius_k=3", "patterns.radius_k", "unknown key for patterns=binary"),
        ("capacity-sweep", "families.modern.n=4", "families.modern.n", "unknown key for modern"),
        ("retrieve", "model.rectified=true", "model.rectified", "its fields: name"),
    ],
)
def test_a_key_the_option_lacks_is_one_line_naming_key_and_option(
    run_cli, tmp_path, command, override, field, words
):
    proc = run_cli(command, override, f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_clean_line(proc, field, words)
    assert not (tmp_path / "run").exists()


def test_each_option_composes_into_its_own_schema():
    for option, schema in GROUPS["model"].items():
        cfg = compose("retrieve", f"model={option}")
        assert type(cfg.model) is schema and cfg.model.name == option
    cfg = compose("capacity_sweep", "families.dense.n=4")
    assert isinstance(cfg.families, Families) and cfg.families.dense == DenseModel(n=4)
    assert cfg.families.modern == ModernModel()


def test_one_meaning_per_name():
    """`name` is every group's discriminator; `binarise` is one top-level field; no `kind`/`source` left."""
    for options in GROUPS.values():
        for schema in options.values():
            names = [f.name for f in dataclasses.fields(schema)]
            assert (
                names[0] == "name"
                and "kind" not in names
                and "source" not in names
                and "binarise" not in names
            )


def test_range_checks_live_with_the_schema():
    cfg = compose("retrieve", "model=dense")
    cfg.model.n = 0
    with pytest.raises(UsageError) as info:
        check_values(cfg)
    assert info.value.field == "model.n" and ">= 1" in info.value.message
    cfg = compose("capacity_sweep")
    cfg.families.sparse.alpha = 3.0
    with pytest.raises(UsageError) as info:
        check_values(cfg)
    assert info.value.field == "families.sparse.alpha"
