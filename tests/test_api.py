"""The Python API (``import hopfield as hf``) against the core's references, and the README's example."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import hopfield as hf
import hopfield_cli
from hopfield_cli.core.modern import reference_energy, reference_update

README = Path(__file__).resolve().parents[1] / "README.md"


def test_both_names_give_the_same_api():
    assert hopfield_cli.retrieve is hf.retrieve and hopfield_cli.Hopfield is hf.Hopfield
    with pytest.raises(AttributeError):
        hopfield_cli.no_such_thing  # noqa: B018


def test_update_and_energy_equal_eq3_and_eq2():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 8, generator=g, dtype=torch.float64)
    xi = torch.randn(4, 8, generator=g, dtype=torch.float64)
    assert torch.allclose(hf.update(x, xi, 2.0), reference_update(x, xi, 2.0), atol=1e-13)
    assert torch.allclose(hf.energy(x, xi, 2.0), reference_energy(x, xi, 2.0), atol=1e-12)
    one = hf.energy(x.numpy(), xi[0].numpy(), 2.0)  # a single state (d,) from NumPy
    assert (
        isinstance(one, np.ndarray)
        and one.shape == ()
        and abs(float(one) - float(reference_energy(x, xi[:1], 2.0))) < 1e-12
    )


def test_update_and_energy_are_differentiable():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    xi = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b, c: hf.update(a, b, c), (x, xi, beta))
    assert torch.autograd.gradcheck(lambda a, b, c: hf.energy(a, b, c), (x, xi, beta))


def test_energy_does_not_rise_under_the_update():
    g = torch.Generator().manual_seed(2)
    x, xi = (
        torch.randn(40, 16, generator=g, dtype=torch.float64),
        torch.randn(8, 16, generator=g, dtype=torch.float64),
    )
    before = hf.energy(x, xi, 0.7)
    after = hf.energy(x, hf.update(x, xi, 0.7), 0.7)
    assert (after <= before + 1e-12).all()


def test_retrieve_takes_numpy_and_gives_numpy():
    rng = np.random.default_rng(3)
    x = np.sign(rng.standard_normal((200, 32)))
    q = x[:4].copy()
    q[:, :6] *= -1
    for model, n in (("modern", 200), ("exponential", 200), ("classical", 2)):  # classical: ~0.14 d patterns
        found = hf.retrieve(x[:n], q[:n], beta=8, model=model)
        assert isinstance(found.states, np.ndarray) and found.states.shape == (min(n, 4), 32)
        assert (found.states == x[: min(n, 4)]).all(), model
    single = hf.retrieve(torch.tensor(x), torch.tensor(q[0]), beta=8)
    assert isinstance(single.states, torch.Tensor) and single.states.shape == (32,)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: hf.retrieve(np.ones((3, 4)), np.ones((2, 5))), "queries"),
        (lambda: hf.retrieve(np.ones((3, 4)), np.ones((2, 4)), beta=-1), "beta"),
        (lambda: hf.retrieve(np.ones((3, 4)), np.ones((2, 4)), model="hebb"), "model"),
        (lambda: hf.update(np.ones((3, 4)), np.ones((2, 2, 4))), "states"),
        (lambda: hf.run("nope"), "command"),
    ],
)
def test_bad_arguments_raise_one_line(call, field):
    with pytest.raises(hf.HopfieldError, match=rf"^{field}: "):
        call()


def test_run_returns_the_tables_and_raises_the_shell_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = hf.run("retrieve", ["num_patterns=50", "dim=16", "beta=8"], folder=tmp_path / "r")
    assert result.folder == tmp_path / "r" and result["results"].shape[0] == 50
    assert result.tables["results"].attrs["hopfield"]["command"] == "retrieve"
    with pytest.raises(hf.HopfieldError, match=r"^dim: must be an integer >= 1"):
        hf.run("retrieve", ["dim=0"])


def test_the_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = README.read_text()
    section = text[text.index("## Python API") : text.index("\n## ", text.index("## Python API") + 1)]
    (block,) = re.findall(r"```python\n(.*?)```", section, re.S)
    exec(compile(block.replace("num_patterns=500", "num_patterns=100"), "README Python API", "exec"), {})  # noqa: S102
