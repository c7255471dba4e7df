"""load_matrix and load_images: formats, conversions and every user-fixable error."""

from __future__ import annotations

import builtins
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from hopfield_cli.data import readers
from hopfield_cli.data.loaders import load_images, load_matrix
from hopfield_cli.data.readers import PICKLE_REFUSED
from hopfield_cli.errors import UsageError

from .conftest import circle, square, stripes

FIELD = "patterns.path"


def usage_error(path, field: str = FIELD, **kwargs) -> UsageError:
    with pytest.raises(UsageError) as info:
        load_matrix(path, field=field, **kwargs)
    assert info.value.field == field
    assert "\n" not in info.value.message
    return info.value


# ------------------------------------------------------------------------------------------- formats


def test_npy_round_trip_and_dtypes(tmp_path):
    data = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    np.save(tmp_path / "f.npy", data)
    out = load_matrix(tmp_path / "f.npy")
    assert out.dtype == torch.float32 and out.shape == (3, 4)
    assert torch.equal(out, torch.from_numpy(data.astype(np.float32)))
    np.save(tmp_path / "i.npy", np.array([[1, -2], [3, 4]], dtype=np.int16))
    assert load_matrix(tmp_path / "i.npy").tolist() == [[1.0, -2.0], [3.0, 4.0]]
    np.save(tmp_path / "b.npy", np.array([[True, False]]))
    assert load_matrix(tmp_path / "b.npy").tolist() == [[1.0, 0.0]]
    np.save(tmp_path / "h.npy", np.ones((2, 2), dtype=np.float16))
    assert load_matrix(tmp_path / "h.npy").dtype == torch.float32


def test_csv_with_and_without_header(tmp_path):
    (tmp_path / "h.csv").write_text("x1, x2 ,x3\n1,2,3\n-4.5,5e-1,6\n\n")
    assert load_matrix(tmp_path / "h.csv").tolist() == [[1, 2, 3], [-4.5, 0.5, 6]]
    (tmp_path / "n.csv").write_text("1,2\n3,4\n")
    assert load_matrix(tmp_path / "n.csv").tolist() == [[1, 2], [3, 4]]


def test_safetensors_single_or_named_patterns(tmp_path):
    a, b = torch.randn(3, 5), torch.randn(2, 2)
    save_file({"weights": a}, tmp_path / "one.safetensors")
    assert torch.equal(load_matrix(tmp_path / "one.safetensors"), a)
    save_file({"other": b, "patterns": a}, tmp_path / "two.safetensors")
    assert torch.equal(load_matrix(tmp_path / "two.safetensors"), a)
    save_file({"x": a, "y": b}, tmp_path / "ambiguous.safetensors")
    err = usage_error(tmp_path / "ambiguous.safetensors")
    assert "2 tensors" in err.message and "'patterns'" in err.message
    save_file({"patterns": torch.tensor([[1, 2]], dtype=torch.int64)}, tmp_path / "int.safetensors")
    assert load_matrix(tmp_path / "int.safetensors").dtype == torch.float32


def test_torch_tensor_and_dicts(tmp_path):
    a = torch.randn(4, 3, dtype=torch.float64)
    torch.save(a, tmp_path / "t.pt")
    torch.testing.assert_close(load_matrix(tmp_path / "t.pt"), a.float())
    torch.save({"patterns": a, "note": "hello", "step": 3}, tmp_path / "d.pth")
    torch.testing.assert_close(load_matrix(tmp_path / "d.pth"), a.float())
    torch.save({"only": a}, tmp_path / "one.pt")
    torch.testing.assert_close(load_matrix(tmp_path / "one.pt"), a.float())
    torch.save({"x": a, "y": a}, tmp_path / "two.pt")
    assert "2 tensors" in usage_error(tmp_path / "two.pt").message
    torch.save([a], tmp_path / "list.pt")
    assert "holds a list" in usage_error(tmp_path / "list.pt").message


# ------------------------------------------------------------------------------------ path problems


def test_missing_directory_empty_and_extension(tmp_path):
    assert "no such file" in usage_error(tmp_path / "missing.npy").message
    assert "is a directory" in usage_error(tmp_path).message
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "is empty" in usage_error(tmp_path / "empty.csv").message
    (tmp_path / "data.txt").write_text("1,2\n")
    err = usage_error(tmp_path / "data.txt")
    assert "unsupported extension '.txt'" in err.message
    for suffix in (".npy", ".csv", ".safetensors", ".pt", ".pth"):
        assert suffix in err.message
    # The field is whatever the caller names.
    usage_error(tmp_path / "missing.npy", field="queries.path")


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.npy"
    np.save(path, np.ones((2, 2)))
    if os.geteuid() != 0:  # root reads anything: simulate the refusal instead
        path.chmod(0)
    else:
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):
            if Path(file) == path:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(readers, "open", refusing_open, raising=False)
    try:
        assert "permission denied" in usage_error(path).message
    finally:
        path.chmod(0o644)


# ------------------------------------------------------------------------------------ content problems


def test_wrong_dtypes(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((2, 2), dtype=np.complex64))
    assert "complex" in usage_error(tmp_path / "c.npy").message
    np.save(tmp_path / "o.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    assert "dtype object" in usage_error(tmp_path / "o.npy").message
    np.save(tmp_path / "s.npy", np.array([["a", "b"]]))
    assert "non-numeric dtype" in usage_error(tmp_path / "s.npy").message
    torch.save(torch.ones(2, 2, dtype=torch.complex64), tmp_path / "c.pt")
    assert "complex" in usage_error(tmp_path / "c.pt").message


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()])
def test_not_two_dimensional(tmp_path, shape):
    np.save(tmp_path / "a.npy", np.zeros(shape))
    err = usage_error(tmp_path / "a.npy")
    assert f"shape {shape}" in err.message and "2-D" in err.message


def test_empty_array(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((0, 3)))
    assert "empty" in usage_error(tmp_path / "a.npy").message


def test_non_finite_values_are_counted_and_located(tmp_path):
    data = np.zeros((4, 5))
    data[2, 3], data[3, 0], data[3, 4] = np.nan, np.inf, -np.inf
    np.save(tmp_path / "a.npy", data)
    err = usage_error(tmp_path / "a.npy")
    assert "3 non-finite" in err.message and "row 2, column 3" in err.message
    save_file({"patterns": torch.from_numpy(data).float()}, tmp_path / "a.safetensors")
    assert "3 non-finite" in usage_error(tmp_path / "a.safetensors").message
    (tmp_path / "a.csv").write_text("1,2\n3,nan\n")
    assert "row 1, column 1" in usage_error(tmp_path / "a.csv").message
    np.save(tmp_path / "big.npy", np.array([[1.0, 1e300]]))
    assert "float32" in usage_error(tmp_path / "big.npy").message


def test_csv_errors_name_line_and_column(tmp_path):
    (tmp_path / "a.csv").write_text("a,b,c\n1,2,3\n4,x5,6\n")
    err = usage_error(tmp_path / "a.csv")
    assert "line 3, column 2" in err.message and "'x5'" in err.message
    (tmp_path / "b.csv").write_text("1,2,3\n4,,6\n")
    assert "line 2, column 2: an empty cell" in usage_error(tmp_path / "b.csv").message
    (tmp_path / "c.csv").write_text("1,2,3\n4,5\n")
    assert "line 2 has 2 columns" in usage_error(tmp_path / "c.csv").message
    (tmp_path / "d.csv").write_text("a,b\n")
    assert "no data rows" in usage_error(tmp_path / "d.csv").message
    (tmp_path / "e.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert "UTF-8" in usage_error(tmp_path / "e.csv").message


def test_truncated_and_corrupt_files(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((10, 10)))
    blob = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "a.npy").write_bytes(blob[:100])
    assert "truncated" in usage_error(tmp_path / "a.npy").message

    save_file({"patterns": torch.ones(10, 10)}, tmp_path / "a.safetensors")
    blob = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "a.safetensors").write_bytes(blob[:-7])
    assert "truncated" in usage_error(tmp_path / "a.safetensors").message
    (tmp_path / "junk.safetensors").write_bytes(b"this is not a safetensors file at all")
    assert "not a valid safetensors" in usage_error(tmp_path / "junk.safetensors").message

    torch.save(torch.ones(10, 10), tmp_path / "a.pt")
    blob = (tmp_path / "a.pt").read_bytes()
    (tmp_path / "a.pt").write_bytes(blob[: len(blob) // 2])
    assert "truncated" in usage_error(tmp_path / "a.pt").message
    (tmp_path / "junk.pt").write_bytes(b"junk bytes, neither zip nor pickle")
    assert "truncated" in usage_error(tmp_path / "junk.pt").message


class CreatesFileWhenUnpickled:
    """Unpickling this runs open(target, 'w'): a stand-in for arbitrary code in a pickle."""

    def __init__(self, target: Path):
        self.target = str(target)

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickle_payload_is_never_executed(tmp_path):
    # The payload is live: plain unpickling creates its file.
    control = tmp_path / "control_was_created"
    pickle.loads(pickle.dumps(CreatesFileWhenUnpickled(control))).close()
    assert control.exists()

    # A real torch zip checkpoint and a bare pickle, each carrying the payload.
    zip_target, raw_target = tmp_path / "pwned_zip", tmp_path / "pwned_raw"
    torch.save(
        {"patterns": torch.ones(2, 2), "x": CreatesFileWhenUnpickled(zip_target)}, tmp_path / "evil.pt"
    )
    (tmp_path / "evil.pth").write_bytes(pickle.dumps(CreatesFileWhenUnpickled(raw_target), protocol=2))
    for name in ("evil.pt", "evil.pth"):
        err = usage_error(tmp_path / name)
        assert PICKLE_REFUSED in err.message
    assert not zip_target.exists() and not raw_target.exists()


# ---------------------------------------------------------------------------------------------- images


def test_load_images_modes_sizes_and_order(image_folder):
    x, names = load_images(image_folder, side=24)
    assert names == [
        "a_square_rgba.png",
        "b_circle_rgb.png",
        "c_circle_p.png",
        "d_stripes_l.jpg",
        "e_square_rgb.JPEG",
    ]
    assert x.shape == (5, 24 * 24) and x.dtype == torch.float32
    assert x.min() >= -1.0 and x.max() <= 1.0
    img = x.reshape(5, 24, 24)
    # RGBA square: the transparent square is composited onto white, so the whole image is white.
    torch.testing.assert_close(img[0], torch.ones(24, 24), atol=1e-6, rtol=0)
    # Circles (RGB and P): white centre, black corners.
    for i in (1, 2):
        assert img[i, 12, 12] > 0.95 and img[i, 0, 0] < -0.95
    # Stripes: columns alternate dark and light; rows are identical.
    columns = img[3].mean(dim=0)
    assert columns.max() > 0.5 and columns.min() < -0.5
    assert img[3].std(dim=0).max() < 0.05
    # RGB square: black centre, white border.
    assert img[4, 12, 12] < -0.95 and img[4, 0, 0] > 0.95


def test_load_images_exact_mapping_without_resize(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(pixels, mode="L").save(folder / "ramp.png")
    Image.fromarray(pixels.astype(np.uint16) * 257).save(folder / "ramp16.png")  # 16-bit gray
    x, _ = load_images(folder, side=16)
    expected = torch.from_numpy(pixels.reshape(-1).astype(np.float32)) * (2 / 255) - 1
    torch.testing.assert_close(x[0], expected)
    torch.testing.assert_close(x[1], expected)
    assert x[0, 0] == -1.0 and x[0, -1] == 1.0


def test_load_images_errors(tmp_path, image_folder):
    def error(folder, **kwargs) -> UsageError:
        with pytest.raises(UsageError) as info:
            load_images(folder, **kwargs)
        return info.value

    assert error(tmp_path / "nowhere").field == FIELD
    assert "expected a folder" in error(image_folder / "notes.txt").message
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.md").write_text("x")
    assert "no PNG or JPEG images" in error(empty).message
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    err = error(broken, field="queries.path")
    assert err.field == "queries.path" and "bad.png" in err.message
    assert error(image_folder, side=0).field == "patterns.side"


def test_drawing_helpers_cover_modes():
    # The fixtures draw in every mode the loader must handle.
    assert {circle("P", (8, 8)).mode, square("RGBA", (8, 8)).mode, stripes((8, 8)).mode} == {"P", "RGBA", "L"}


@pytest.mark.parametrize("dtype", [torch.float8_e4m3fn, torch.float8_e5m2, torch.uint16, torch.uint64])
def test_float8_and_wide_unsigned_tensors_are_read_as_float32(tmp_path, dtype):
    """float8 has no isfinite (it crashed); every float8 and small unsigned value is a float32 exactly."""
    values = torch.tensor([[1.0, 0.5, 2.0], [0.0, 1.0, 4.0]])
    if not dtype.is_floating_point:
        values = values.round()  # integers: whole numbers only
    save_file({"patterns": values.to(dtype)}, tmp_path / "x.safetensors")
    loaded = load_matrix(tmp_path / "x.safetensors")
    assert loaded.dtype == torch.float32 and torch.equal(loaded, values)
