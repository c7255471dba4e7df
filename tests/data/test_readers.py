"""read_array: the one tensor-file reader shared by patterns, queries and attention files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from hopfield_cli.data.readers import read_array
from hopfield_cli.errors import UsageError


def error(path, **kwargs) -> UsageError:
    with pytest.raises(UsageError) as info:
        read_array(path, "f", **kwargs)
    assert info.value.field == "f" and "\n" not in info.value.message
    return info.value


def test_the_first_preferred_name_wins(tmp_path):
    a, b = torch.ones(2, 2), torch.zeros(2, 2)
    save_file({"second": b, "first": a, "other": b.clone()}, tmp_path / "x.safetensors")
    assert torch.equal(read_array(tmp_path / "x.safetensors", "f", names=("first", "second")), a)
    assert torch.equal(read_array(tmp_path / "x.safetensors", "f", names=("nope", "second")), b)
    torch.save({"second": b, "first": a}, tmp_path / "x.pt")
    assert torch.equal(read_array(tmp_path / "x.pt", "f", names=("first", "second")), a)
    assert "'want'" in error(tmp_path / "x.safetensors", names=("want",)).message
    assert "'want'" in error(tmp_path / "x.pt", names=("want",)).message


def test_arrays_come_back_unchecked(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((2, 3, 4)))
    assert read_array(tmp_path / "a.npy", "f", names=("x",)).shape == (2, 3, 4)
    (tmp_path / "a.csv").write_text("1,2\n3,4\n")
    assert read_array(tmp_path / "a.csv", "f", names=("x",)).tolist() == [[1, 2], [3, 4]]


def test_sequences_of_tensors_only_when_asked(tmp_path):
    layers = (torch.ones(2, 3), torch.zeros(2, 3))
    torch.save(layers, tmp_path / "t.pt")
    got = read_array(tmp_path / "t.pt", "f", names=("x",), sequences=True)
    assert isinstance(got, list) and all(torch.equal(g, w) for g, w in zip(got, layers, strict=True))
    assert "holds a tuple" in error(tmp_path / "t.pt", names=("x",)).message
    torch.save({"x": list(layers)}, tmp_path / "d.pt")
    assert len(read_array(tmp_path / "d.pt", "f", names=("x",), sequences=True)) == 2
    assert "'x' holds a list, not a tensor" in error(tmp_path / "d.pt", names=("x",)).message
    torch.save([torch.ones(1), "text"], tmp_path / "mixed.pt")
    assert "holds a list" in error(tmp_path / "mixed.pt", names=("x",), sequences=True).message


def test_suffixes_limit_the_formats(tmp_path):
    (tmp_path / "a.csv").write_text("1,2\n")
    err = error(tmp_path / "a.csv", names=("x",), suffixes=(".npy", ".pt"))
    assert "unsupported extension '.csv'" in err.message and ".npy, .pt" in err.message
