"""Memory files: safetensors round trip, metadata, checksum, atomic writes and load errors."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from datetime import datetime

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from hopfield_cli import __version__
from hopfield_cli.data import memory_file
from hopfield_cli.data.memory_file import load_memory, package_versions, save_memory
from hopfield_cli.errors import UsageError

COMPUTED = {
    "format",
    "format_version",
    "num_patterns",
    "dim",
    "value_min",
    "value_max",
    "checksum",
    "versions",
    "created",
}


@pytest.fixture
def patterns(gen) -> torch.Tensor:
    return torch.randn(7, 5, generator=gen(3))


def load_error(path, field: str = "memory") -> UsageError:
    with pytest.raises(UsageError) as info:
        load_memory(path, field=field)
    assert info.value.field == field
    return info.value


def test_round_trip_keeps_tensor_and_metadata_types(tmp_path, patterns):
    extra = {
        "source": "images",
        "seed": 11,
        "normalisation": "none",
        "image_side": 64,
        "file_names": ["a.png", "b.png"],
        "looks_numeric": "123",
        "beta": None,
    }
    path = save_memory(tmp_path / "mem.safetensors", patterns, extra)
    assert path == tmp_path / "mem.safetensors"
    loaded, meta = load_memory(path)
    assert torch.equal(loaded, patterns) and loaded.dtype == torch.float32
    for key, value in extra.items():
        assert meta[key] == value and type(meta[key]) is type(value)
    assert COMPUTED <= meta.keys()
    assert meta["num_patterns"] == 7 and meta["dim"] == 5
    assert meta["value_min"] == patterns.min().item() and meta["value_max"] == patterns.max().item()
    assert meta["versions"] == package_versions()
    assert datetime.fromisoformat(meta["created"]).utcoffset().total_seconds() == 0


def test_checksum_is_sha256_of_row_major_float32(tmp_path, patterns):
    _, meta = load_memory(save_memory(tmp_path / "m.safetensors", patterns, {}))
    reference = hashlib.sha256(patterns.numpy().astype("<f4").tobytes(order="C")).hexdigest()
    assert meta["checksum"] == reference and meta["dtype"] == "float32"


def test_float64_patterns_are_stored_as_float64(tmp_path, patterns):
    """`store dtype=float64` keeps every digit; the checksum is of the float64 bytes."""
    wide = patterns.double() + 1e-12  # values no float32 holds
    path = save_memory(tmp_path / "m.safetensors", wide, {})
    with safe_open(str(path), framework="pt") as fh:
        assert fh.get_slice("patterns").get_dtype() == "F64"
    loaded, meta = load_memory(path)
    assert loaded.dtype == torch.float64 and torch.equal(loaded, wide) and meta["dtype"] == "float64"
    assert meta["checksum"] == hashlib.sha256(wide.numpy().astype("<f8").tobytes(order="C")).hexdigest()


def test_a_dtype_key_that_disagrees_with_the_tensor_is_refused(tmp_path, patterns):
    path = tmp_path / "m.safetensors"
    with safe_open(str(save_memory(path, patterns, {})), framework="pt") as fh:
        meta, tensor = fh.metadata(), fh.get_tensor("patterns")
    save_file({"patterns": tensor}, str(path), metadata={**meta, "dtype": "float64"})
    with pytest.raises(UsageError) as info:
        load_memory(path)
    assert "metadata dtype does not match" in info.value.message


def test_file_is_plain_safetensors_with_string_metadata(tmp_path, patterns):
    path = save_memory(tmp_path / "m.safetensors", patterns, {"seed": 1, "source": "gaussian"})
    with safe_open(str(path), framework="pt") as fh:
        assert list(fh.keys()) == ["patterns"]
        raw = fh.metadata()
    assert all(isinstance(v, str) for v in raw.values())
    assert raw["source"] == "gaussian" and raw["seed"] == "1"
    assert "seed" in json.loads(raw["json_keys"]) and "source" not in json.loads(raw["json_keys"])


def test_caller_keys_default_to_none_and_computed_keys_win(tmp_path, patterns):
    _, meta = load_memory(save_memory(tmp_path / "m.safetensors", patterns, {"num_patterns": 999}))
    assert meta["source"] is None and meta["seed"] is None and meta["normalisation"] is None
    assert meta["num_patterns"] == 7


def test_package_versions():
    versions = package_versions()
    assert set(versions) == {"hopfield_cli", "torch", "safetensors", "numpy", "python"}
    assert versions["hopfield_cli"] == __version__ and versions["numpy"] == np.__version__


def test_atomic_write_replaces_and_leaves_no_temp_files(tmp_path, patterns, monkeypatch):
    path = tmp_path / "sub" / "dir" / "m.safetensors"  # parents are created
    save_memory(path, patterns, {"seed": 1})
    save_memory(path, patterns * 2, {"seed": 2})
    assert load_memory(path)[1]["seed"] == 2
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.safetensors"]
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # the usual permissions, not mkstemp's 0600

    def failing_save(*args, **kwargs):
        raise KeyboardInterrupt  # killed half way

    monkeypatch.setattr(memory_file, "_write_safetensors", failing_save)
    with pytest.raises(KeyboardInterrupt):
        save_memory(path, patterns * 3, {"seed": 3})
    assert load_memory(path)[1]["seed"] == 2  # the old file is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.safetensors"]


def test_save_errors(tmp_path, patterns):
    with pytest.raises(UsageError) as info:
        save_memory(tmp_path, patterns, {}, field="store.output")
    assert info.value.field == "store.output" and "is a directory" in info.value.message
    with pytest.raises(ValueError):
        save_memory(tmp_path / "m.safetensors", torch.ones(3), {})
    with pytest.raises(ValueError):
        save_memory(tmp_path / "m.safetensors", torch.tensor([[float("nan")]]), {})


def test_edited_tensor_fails_the_checksum(tmp_path, patterns):
    path = save_memory(tmp_path / "m.safetensors", patterns, {})
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 0x01  # one bit of the last float
    path.write_bytes(bytes(blob))
    assert load_error(path).message == "m.safetensors: checksum mismatch: the file is corrupt or was edited"


def test_edited_metadata_is_detected(tmp_path, patterns):
    path = save_memory(tmp_path / "m.safetensors", patterns, {})
    tensor, meta = load_memory(path)
    with safe_open(str(path), framework="pt") as fh:
        raw = fh.metadata()
    raw["checksum"] = "0" * 64
    save_file({"patterns": tensor}, path, metadata=raw)
    assert "checksum mismatch" in load_error(path).message
    raw["checksum"] = meta["checksum"]
    raw["json_keys"] = "not json"
    save_file({"patterns": tensor}, path, metadata=raw)
    assert "malformed metadata" in load_error(path).message


def test_load_errors(tmp_path, patterns):
    assert "no such file" in load_error(tmp_path / "missing.safetensors").message
    assert "is a directory" in load_error(tmp_path).message
    (tmp_path / "empty.safetensors").write_bytes(b"")
    assert "is empty" in load_error(tmp_path / "empty.safetensors").message

    path = save_memory(tmp_path / "m.safetensors", patterns, {})
    blob = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[:-10])
    assert "truncated" in load_error(tmp_path / "cut.safetensors", field="retrieve.memory").message
    header_len = struct.unpack("<Q", blob[:8])[0]
    (tmp_path / "cut_header.safetensors").write_bytes(blob[: 8 + header_len // 2])
    assert "truncated" in load_error(tmp_path / "cut_header.safetensors").message

    save_file({"patterns": patterns}, tmp_path / "plain.safetensors")
    assert "not a hopfield memory file" in load_error(tmp_path / "plain.safetensors").message
    torch.save(patterns, tmp_path / "pickle.safetensors")
    assert "not a valid safetensors" in load_error(tmp_path / "pickle.safetensors").message


def test_metadata_nested_beyond_any_recursion_limit_is_one_line(tmp_path, patterns):
    path = save_memory(tmp_path / "m.safetensors", patterns, {"source": "x"})
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    meta = header["__metadata__"]
    meta["source"] = "[" * 100_000 + "]" * 100_000
    meta["json_keys"] = json.dumps(sorted({*json.loads(meta["json_keys"]), "source"}))
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    (tmp_path / "deep.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length :])
    assert "malformed metadata" in load_error(tmp_path / "deep.safetensors").message


def test_tensor_dtype_and_shape_are_checked_from_the_header(tmp_path, patterns, monkeypatch):
    path = save_memory(tmp_path / "m.safetensors", patterns, {})
    with safe_open(str(path), "pt") as fh:
        metadata = fh.metadata()
    save_file({"patterns": patterns.to(torch.float8_e4m3fn)}, tmp_path / "f8.safetensors", metadata=metadata)
    save_file({"patterns": patterns[:, :, None]}, tmp_path / "3d.safetensors", metadata=metadata)
    monkeypatch.setattr(memory_file, "checksum", lambda t: pytest.fail("the data was read"))
    assert "F8_E4M3" in load_error(tmp_path / "f8.safetensors").message
    assert "expected 2-D float32" in load_error(tmp_path / "3d.safetensors").message


def test_written_file_is_plain_safetensors_and_loads_mapped(tmp_path, patterns):
    """The file written block by block reads back with safetensors' own loader, bit for bit; load_memory maps it
    (no second copy of the data) and a write to the loaded tensor never reaches the file (copy on write)."""
    from safetensors.torch import load_file

    path = save_memory(tmp_path / "m.safetensors", patterns, {"seed": 1})
    assert torch.equal(load_file(str(path))["patterns"], patterns)
    loaded, _ = load_memory(path)
    assert torch.equal(loaded, patterns)
    loaded.add_(1.0)
    assert torch.equal(load_memory(path)[0], patterns)
