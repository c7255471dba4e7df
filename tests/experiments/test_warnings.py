"""Where results lose meaning: one warning line each, and none for an ordinary memory."""

from __future__ import annotations

import torch

from hopfield_cli.experiments.warnings import meaning_warnings, warn


def signs(n: int, d: int) -> torch.Tensor:
    return torch.randint(0, 2, (n, d), generator=torch.Generator().manual_seed(0)).float() * 2 - 1


def test_an_ordinary_memory_has_no_warning():
    assert meaning_warnings(signs(50, 32), [8.0]) == []


def test_one_pattern_one_dimension_and_duplicates():
    assert [line.split(":")[0] for line in meaning_warnings(signs(1, 8))] == ["num_patterns"]
    assert [line.split(":")[0] for line in meaning_warnings(torch.tensor([[1.0], [2.0]]))] == ["dim"]
    x = signs(10, 16)
    duplicated = meaning_warnings(torch.cat([x, x[:3]]))
    assert len(duplicated) == 1 and duplicated[0].startswith("patterns: 3 of 13")


def test_a_huge_beta_makes_every_softmax_one_hot():
    lines = meaning_warnings(signs(20, 16), [1e6])
    assert len(lines) == 1 and lines[0].startswith("beta:") and "one-hot" in lines[0]
    assert meaning_warnings(signs(20, 16), None) == []  # no family with a beta runs


def test_warn_prints_one_line_each_on_stderr(capsys):
    warn(["first", "second"])
    # (only our lines: a CLI run earlier in this process may leave Hydra's log handlers complaining here)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert lines == ["warning: first", "warning: second"]
