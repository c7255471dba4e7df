"""The README's Python examples of the layers run as written (each ```python block of its layers section)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    text = README.read_text()
    start = text.index("## Hopfield layers")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


def test_the_readme_has_layer_examples():
    assert len(python_blocks()) >= 2


@pytest.mark.parametrize("index", range(2))
def test_a_readme_example_runs(index):
    import torch

    torch.manual_seed(index)
    exec(compile(python_blocks()[index], f"README.md python block {index}", "exec"), {})  # noqa: S102
