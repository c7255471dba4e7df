"""load_attention: attention probabilities from a file, checked row by row."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hopfield_cli.data.attention_file import load_attention
from hopfield_cli.errors import UsageError


def probabilities(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(*shape, generator=torch.Generator().manual_seed(0)), dim=-1)


def test_three_dimensional_input_gets_one_layer(tmp_path):
    np.save(tmp_path / "a.npy", probabilities(2, 3, 5).numpy())
    assert load_attention(tmp_path / "a.npy").shape == (1, 2, 3, 5)


def test_per_layer_tensors_with_a_batch_axis_are_stacked(tmp_path):
    probs = probabilities(3, 2, 4, 6)
    torch.save([layer[None] for layer in probs], tmp_path / "a.pt")
    assert torch.equal(load_attention(tmp_path / "a.pt"), probs)
    torch.save([probs[0], probs[1, :, :2]], tmp_path / "ragged.pt")
    with pytest.raises(UsageError, match="differ in shape"):
        load_attention(tmp_path / "ragged.pt")


def test_errors_name_the_given_field(tmp_path):
    probs = probabilities(2, 3, 5)
    probs[1, 2] *= 3
    np.save(tmp_path / "bad.npy", probs.numpy())
    with pytest.raises(UsageError) as info:
        load_attention(tmp_path / "bad.npy", field="metastable_scan.attention")
    assert info.value.field == "metastable_scan.attention" and "head 1, query 2" in info.value.message
    (tmp_path / "a.csv").write_text("1\n")
    with pytest.raises(UsageError, match="unsupported extension"):
        load_attention(tmp_path / "a.csv")
