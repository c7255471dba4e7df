"""Issues 27 and 26: readers keep float64 input as float64 in a float64 run, read big-endian .npy in native
byte order, accept bf16 attention rows within bf16 rounding, and draw noise in the run's dtype."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from hopfield_cli.data.attention_file import load_attention, row_sum_tolerance
from hopfield_cli.data.corruption import gaussian_noise
from hopfield_cli.data.loaders import load_matrix, storage_dtype
from hopfield_cli.errors import UsageError


def digits(rows: int = 5, cols: int = 4) -> np.ndarray:
    """float64 values that float32 cannot hold (each differs from its float32 rounding)."""
    values = np.random.default_rng(0).standard_normal((rows, cols)) + 1e-9
    assert (values.astype(np.float32).astype(np.float64) != values).all()
    return values


def write(tmp_path, fmt: str, values: np.ndarray):
    path = tmp_path / f"p.{fmt}"
    if fmt == "npy":
        np.save(path, values)
    elif fmt == "csv":
        np.savetxt(path, values, delimiter=",", fmt="%.17g")
    else:
        save_file({"patterns": torch.from_numpy(values)}, str(path))
    return path


@pytest.mark.parametrize("fmt", ["npy", "csv", "safetensors"])
def test_float64_run_keeps_every_digit_of_the_file(tmp_path, fmt):
    values = digits()
    path = write(tmp_path, fmt, values)
    wide = load_matrix(path, dtype=torch.float64)
    assert wide.dtype == torch.float64 and np.array_equal(wide.numpy(), values)
    narrow = load_matrix(path)  # the default stays float32
    assert narrow.dtype == torch.float32 and np.array_equal(narrow.numpy(), values.astype(np.float32))


def test_integers_of_a_float64_run_are_widened_exactly(tmp_path):
    big = np.array([[2**40 + 1, -3], [7, 2**30 + 1]], dtype=np.int64)  # beyond float32's 24 bits
    np.save(tmp_path / "i.npy", big)
    assert np.array_equal(
        load_matrix(tmp_path / "i.npy", dtype=torch.float64).numpy(), big.astype(np.float64)
    )


def test_storage_dtype_is_float64_only_for_float64_runs():
    assert storage_dtype(torch.float64) == storage_dtype("float64") == torch.float64
    assert {storage_dtype(d) for d in (torch.float32, torch.bfloat16, "float16", None)} == {torch.float32}


@pytest.mark.parametrize("code", [">f8", ">f4", ">i4", ">f2"])
def test_big_endian_patterns_are_read_in_native_order(tmp_path, code):
    """A FITS/MATLAB-style big-endian .npy once gave a traceback; now it reads as the same numbers."""
    values = (np.arange(12, dtype=np.float64).reshape(3, 4) - 4) / (4 if code[1] == "f" else 1)
    np.save(tmp_path / "be.npy", values.astype(code))
    assert np.array_equal(load_matrix(tmp_path / "be.npy", dtype=torch.float64).numpy(), values)


def test_big_endian_attention_is_read_in_native_order(tmp_path):
    probs = np.full((2, 3, 4), 0.25)
    np.save(tmp_path / "a.npy", probs.astype(">f8"))
    assert torch.equal(load_attention(tmp_path / "a.npy"), torch.from_numpy(probs)[None])


def bf16_rows(n_keys: int = 50) -> torch.Tensor:
    """Softmax rows computed in float32 and stored in bf16, as a bf16 Hugging Face model returns them."""
    scores = torch.randn(2, 4, n_keys, generator=torch.Generator().manual_seed(0))
    return torch.softmax(scores * 3, dim=-1).to(torch.bfloat16)


def test_bf16_attention_within_its_rounding_is_accepted(tmp_path):
    rows = bf16_rows()
    off = float((rows.double().sum(-1) - 1).abs().max())
    assert 1e-3 < off <= row_sum_tolerance(torch.bfloat16) == 2.0**-7  # refused before; 2 u of bf16 now
    save_file({"attentions": rows}, str(tmp_path / "a.safetensors"))
    assert load_attention(tmp_path / "a.safetensors").shape == (1, 2, 4, 50)


def test_rows_beyond_the_dtype_rounding_are_still_refused(tmp_path):
    rows = bf16_rows().float()
    rows[0, 0] *= 1.02
    save_file({"attentions": rows.to(torch.bfloat16)}, str(tmp_path / "a.safetensors"))
    with pytest.raises(UsageError) as info:
        load_attention(tmp_path / "a.safetensors")
    assert "sums to" in info.value.message and "0.0078125" in info.value.message
    assert row_sum_tolerance(torch.float32) == row_sum_tolerance(torch.float16) == 1e-3


def test_noise_of_float64_patterns_is_drawn_in_float64():
    patterns = torch.from_numpy(digits())
    noisy = gaussian_noise(patterns, torch.Generator().manual_seed(3), sigma=0.3)
    reference = patterns + 0.3 * torch.randn(
        5, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64
    )
    assert noisy.dtype == torch.float64 and torch.equal(noisy, reference)
    narrow = gaussian_noise(patterns.float(), torch.Generator().manual_seed(3), sigma=0.3)
    assert narrow.dtype == torch.float32  # the float32 default draws as before
