"""Bad config values end in ONE line naming the field, exit 2, before any run folder exists.

Absurd sizes are refused from an estimate of the run's memory (each experiment's ``footprint``), before anything is
allocated: the message says how many GiB the run needs and how many are free.
"""

from __future__ import annotations

import pytest

from hopfield_cli.errors import CapacityError
from tests.conftest import assert_one_clean_line, compose

from .conftest import SMALL, invoke

# A battery of many in-process runs: `make test` runs it, `make test-fast` leaves it out.
pytestmark = pytest.mark.slow

NUMBERS = [
    ("abc", "integer"),
    ("0", ">= 1"),
    ("-3", ">= 1"),
    ("1.5", "integer"),
    ("[1,2]", "integer"),
    ("", None),
]
FLOATS = [
    ("abc", "float"),
    ("0", "> 0"),
    ("-1", "> 0"),
    ("nan", "> 0"),
    ("inf", "finite"),
    ("-inf", "> 0"),
    ("[]", None),
]

COMMON = [
    ("seed=-1", "seed", ">= 0"),
    ("seed=abc", "seed", "integer"),
    ("device=tpu", "device", "auto, cpu"),
    ("device=cuda:x", "device", "cuda:N"),
    ("dtype=int8", "dtype", "float32"),
    ("dtype=float16", "dtype", "CUDA only"),
    ("dtype=bfloat16", "dtype", "CUDA only"),
    ("no_such_key=1", "no_such_key", "unknown key"),
    ("+no_such_key=1", "no_such_key", "unknown key"),
    ("patterns.no_such_key=1", "patterns.no_such_key", "unknown key"),
    ("+patterns.extra=1", "patterns.extra", "unknown key"),
    ("patterns=no_such_source", "patterns", "allowed: binary"),
    ("corruption=no_such", "corruption", "allowed:"),
    ("normalise=sideways", "normalise", "none, unit"),
    ("patterns=file", "patterns.path", "is required"),
]

PER_COMMAND = {
    "store": [
        *[(f"dim={v}", "dim", m) for v, m in NUMBERS],
        *[(f"num_patterns={v}", "num_patterns", m) for v, m in NUMBERS],
        *[(f"beta={v}", "beta", m) for v, m in FLOATS],
        ("patterns=sphere patterns.radius_k=0", "patterns.radius_k", "(0, 1e+35]"),
        ("patterns=sphere patterns.radius_k=nan", "patterns.radius_k", "(0, 1e+35]"),
        ("patterns=correlated patterns.correlation=1", "patterns.correlation", "[0, 1)"),
        ("patterns=correlated patterns.correlation=-0.1", "patterns.correlation", "[0, 1)"),
        ("patterns=images patterns.path=. patterns.side=0", "patterns.side", ">= 1"),
        ("num_patterns=1000000000 dim=10000000", "num_patterns", "GiB"),
        ("num_patterns=1000000000 dim=64", "num_patterns", "GiB"),
        ("num_patterns=100000 dim=10000000", "dim", "GiB"),
    ],
    "retrieve": [
        *[(f"dim={v}", "dim", m) for v, m in NUMBERS],
        *[(f"num_queries={v}", "num_queries", m) for v, m in NUMBERS],
        *[(f"beta={v}", "beta", m) for v, m in FLOATS],
        *[(f"eps={v}", "eps", m) for v, m in FLOATS],
        ("model=hebb", "model", "allowed: classical"),
        ("model=sparse model.alpha=1", "model.alpha", "(1, 2]"),
        ("model=dense model.n=0", "model.n", ">= 1"),
        ("model.n=7", "model.n", "unknown key for model=modern"),
        ("model.alpha=5", "model.alpha", "unknown key for model=modern"),
        ("model=classical model.rectified=true", "model.rectified", "unknown key for model=classical"),
        ("out=x.safetensors", "out", "unknown key"),
        ("model.binarise=true", "model.binarise", "unknown key"),
        ("corruption.p=1.5", "corruption.p", "[0, 1]"),
        ("corruption.p=nan", "corruption.p", "[0, 1]"),
        ("corruption=noise corruption.sigma=-1", "corruption.sigma", "[0, 1e+35]"),
        ("corruption=mask corruption.fill=inf", "corruption.fill", "[-1e+38, 1e+38]"),
        ("update_steps_max=-1", "update_steps_max", ">= 0"),
        ("memory_budget=abc", "memory_budget", "size like"),
        ("memory_budget=0", "memory_budget", "size like"),
        ("memory_budget=1", "memory_budget", "budget"),
        ("success=maybe", "success", "nearest"),
        ("success_tol=nan", "success_tol", "> 0"),
        ("targets_file=t.npy", "targets_file", "needs queries_file"),
        ("grid_rows=0", "grid_rows", ">= 1"),
        ("num_patterns=1000000000 dim=64", "num_patterns", "GiB"),
        ("num_patterns=10 dim=8 num_queries=100000000", "num_queries", "GiB"),
        ("model=sparse num_patterns=1000000000 dim=1 num_queries=1000", "num_patterns", "GiB"),
        ("model=classical num_patterns=2000000 dim=1000000", "num_patterns", "GiB"),
    ],
    "capacity-sweep": [
        *[(f"trials={v}", "trials", m) for v, m in NUMBERS],
        *[(f"n_max={v}", "n_max", m) for v, m in NUMBERS],
        *[(f"beta={v}", "beta", m) for v, m in FLOATS],
        *[(f"growth={v}", "growth", m) for v, m in FLOATS if m != "> 0"],
        ("models=[]", "models", "not be empty"),
        ("betas=[]", "betas", "not be empty"),
        ("dims=[]", "dims", "not be empty"),
        ("models=[hebb]", "models[0]", "modern"),
        ("families.modern.n=4", "families.modern.n", "unknown key for modern"),
        ("families.dense.n=0", "families.dense.n", ">= 1"),
        ("model=dense", "model", "not a config group"),
        ("+model=dense", "model", "not a config group"),
        ("betas=[1,nan]", "betas[1]", "> 0"),
        ("dims=[8,0]", "dims[1]", ">= 1"),
        ("dims=abc", "dims", None),
        ("growth=1", "growth", "> 1"),
        ("refine_steps=-1", "refine_steps", ">= 0"),
        ("threshold=0", "threshold", "(0, 1]"),
        ("threshold=1.5", "threshold", "(0, 1]"),
        ("n_start=10 n_max=5", "n_max", ">= n_start"),
        ("n_max=1000000000 dim=64", "n_max", "GiB"),
        ("num_queries=10000000 dims=[4096]", "num_queries", "GiB"),
        ("dims=[10000000]", "dims", "GiB"),
        ("dims=[1000000]", "dims", "block being drawn"),
        ("memory_budget=1", "memory_budget", "budget"),
        ("resume=/no/such/folder", "resume", "no such run folder"),
    ],
    "metastable-scan": [
        *[(f"num_betas={v}", "num_betas", m) for v, m in NUMBERS],
        *[(f"num_queries={v}", "num_queries", m) for v, m in NUMBERS],
        *[(f"beta_min={v}", "beta_min", m) for v, m in FLOATS],
        ("clusters=-1", "clusters", ">= 0"),
        ("clusters=100 num_patterns=10", "clusters", "at most"),
        ("cluster_spread=nan", "cluster_spread", ">= 0"),
        ("queries=sideways", "queries", "corrupted"),
        ("beta_min=2 beta_max=1", "beta_max", "> beta_min"),
        ("num_patterns=1000000000", "num_patterns", "GiB"),
        ("num_queries=10000000 num_patterns=8 dim=8", "num_queries", "GiB"),
        ("dim=10000000 num_patterns=1000 clusters=0", "dim", "GiB"),
        ("resume=/no/such/folder", "resume", "no such run folder"),
        ("memory_budget=1", "memory_budget", "budget"),
        ("attention=a.npy", "attention", "hopfield attention-heads"),
    ],
}

STORE_HAS_NO = ("corruption=",)  # store makes no queries: corruption is an unknown key there
CASES = [
    (c, *case)
    for c in PER_COMMAND
    for case in [*COMMON, *PER_COMMAND[c]]
    if not (c == "store" and case[0].startswith(STORE_HAS_NO))
]


@pytest.mark.parametrize(
    ("command", "override", "field", "contains"), CASES, ids=[f"{c}:{o}" for c, o, _, _ in CASES]
)
def test_bad_value_is_one_line_naming_the_field(tmp_path, command, override, field, contains):
    run_dir = tmp_path / "run"
    small = [a for a in SMALL[command] if a.split("=")[0] not in {o.split("=")[0] for o in override.split()}]
    result = invoke(command, *small, *override.split(), run_dir=run_dir)
    assert_one_clean_line(result, field, contains)
    assert not run_dir.exists(), "a run folder was created for a refused command"


def test_the_memory_estimate_names_both_sizes():
    """The refusal says how much is needed and how much is free, from the estimate alone."""
    from hopfield_cli.app.check.checks import check_memory
    from hopfield_cli.app.commands import COMMANDS

    terms = COMMANDS["retrieve"].footprint(compose("retrieve", "num_patterns=1000000", "dim=1000"))
    check_memory(terms, available=64 * 2**30)  # ~24 GiB: fits in 64
    with pytest.raises(
        CapacityError, match=r"needs about .* GiB .* but 1 GiB is available; lower num_patterns"
    ):
        check_memory(terms, available=2**30)


def test_size_checks_run_before_any_allocation(monkeypatch, tmp_path):
    """A refused size never reaches the pattern generators."""
    import hopfield_cli.data.patterns as sources

    def boom(*args, **kwargs):
        raise AssertionError("patterns were generated for a run that cannot fit")

    monkeypatch.setattr(sources, "make_patterns", boom)
    result = invoke("store", "num_patterns=1000000000", "dim=1000", run_dir=tmp_path / "run")
    assert_one_clean_line(result, "num_patterns", "GiB")
