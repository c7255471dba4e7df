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


# --- issue 12: shapes and dtypes from the header, before any data is read ---------------------------------


def _npy_claiming(path, shape, descr="<f4"):
    import struct

    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    text += " " * (64 - (10 + len(text) + 1) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode() + b"\0" * 16)
    return path


def test_npy_header_that_claims_more_than_the_file_is_refused_before_reading(tmp_path, monkeypatch):
    from hopfield_cli.data import readers

    path = _npy_claiming(tmp_path / "huge.npy", (10**9, 10**6))
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load was called"))
    message = error(path, names=("patterns",)).message
    assert "(1000000000, 1000000)" in message and "3.55 PiB" in message and "16 B" in message
    with pytest.raises(UsageError):
        readers.header_info(path, "f", ("patterns",))


def test_header_info_is_the_shape_read_array_returns(tmp_path):
    from hopfield_cli.data.readers import header_info

    def header_shape(*args):
        return header_info(*args)[0]

    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", array)
    save_file({"patterns": torch.from_numpy(array)}, tmp_path / "a.safetensors")
    for name in ("a.npy", "a.safetensors"):
        assert header_shape(tmp_path / name, "f", ("patterns",)) == tuple(
            read_array(tmp_path / name, "f", names=("patterns",)).shape
        )
    torch.save({"patterns": torch.from_numpy(array)}, tmp_path / "a.pt")
    assert header_shape(tmp_path / "a.pt", "f", ("patterns",)) == (3, 4)  # mapped: the data is not read
    (tmp_path / "a.csv").write_text("x,y\n1,2\n3,4\n")
    assert header_shape(tmp_path / "a.csv", "f", ("patterns",)) == (3, 2)  # lines: a bound of the rows
    np.save(tmp_path / "w.npy", array.astype(np.float64))
    assert header_info(tmp_path / "w.npy", "f", ("patterns",)) == ((3, 4), 8)


@pytest.mark.parametrize("descr", ["|O", "[('a', '<f4'), ('b', '<f4')]"])
def test_object_and_structured_npy_dtypes_are_refused_from_the_header(tmp_path, descr):
    path = tmp_path / "x.npy"
    if descr == "|O":
        np.save(path, np.array([[1, "a"]], dtype=object), allow_pickle=True)
    else:
        np.save(path, np.zeros(3, dtype=[("a", "<f4"), ("b", "<f4")]))
    assert "expected" in error(path, names=("patterns",)).message
