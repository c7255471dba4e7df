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


def test_duplicates_are_counted_exactly_by_row_hashes(monkeypatch):
    """The streamed duplicate check (row hashes in blocks, colliding rows compared byte by byte) counts
    what sorting the rows as bytes counts, -0.0 equal to +0.0, even when every hash collides."""
    import numpy as np

    from hopfield_cli.experiments import warnings as w

    def by_sorting(x):
        rows = np.ascontiguousarray((x + 0.0).numpy())
        return int(
            np.unique(rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()).size
        )

    g = torch.Generator().manual_seed(2)
    x = torch.randint(-1, 2, (3000, 3), generator=g).float()  # 27 distinct rows: thousands of duplicates
    x[0] = torch.tensor([-0.0, 0.0, -0.0])
    monkeypatch.setattr(w, "HASH_ENTRIES", 100)  # many blocks
    assert w._unique_rows(x) == by_sorting(x) == 27
    y = torch.randn(500, 3, generator=g, dtype=torch.float64)
    y = torch.cat([y, y[:10]])
    assert w._unique_rows(y) == 500
    monkeypatch.setattr(
        np.random, "default_rng", lambda seed: _Zero()
    )  # every multiplier 1: hashes collide more
    assert w._unique_rows(x) == 27


class _Zero:
    def integers(self, lo, hi, size, dtype):
        import numpy as np

        return np.zeros(size, dtype=dtype)


def test_score_gap_beyond_the_exact_size_is_sampled_and_says_so(monkeypatch):
    """Past GAP_EXACT_PAIRS the one-hot check compares a seeded sample (the same warning each time)
    and names the sample's size."""
    from hopfield_cli.experiments import warnings as w

    monkeypatch.setattr(w, "GAP_EXACT_PAIRS", 256 * 8)
    x = signs(300, 32)
    lines = meaning_warnings(x, [1e6])
    assert len(lines) == 1 and "one-hot" in lines[0] and "256 x 8 sampled pairs" in lines[0]
    assert meaning_warnings(x, [1e6]) == lines
