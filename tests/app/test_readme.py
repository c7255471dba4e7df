"""Every recipe of the README runs as written, and says how long it takes on 2 cores (at most 2 minutes).

The recipes are the ``hopfield ...`` lines of the bash blocks in the README's "Recipes" and "Results"
sections, run in order (a later line may use an earlier one's file) from a folder that looks like the top of
a clone (``examples/`` beside it). Where a line leaves a size open, smaller sizes are added (``SMALLER``), so
the whole README runs in seconds; a line that sets a key keeps its own value.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
SECTIONS = ("Recipes", "Hopfield layers and `hopfield train`", "Results")
MAX_SECONDS = 120
# Added to a recipe of these commands unless it sets the key itself.
SMALLER = {
    "capacity-sweep": ("n_max=64", "trials=1", "refine_steps=1", "num_queries=16", "plots=false"),
    "metastable-scan": ("num_betas=6", "num_queries=32", "plots=false"),
    "store": (),
    "retrieve": ("grid_rows=2",),
    "attention-heads": (),
    "train": ("epochs=1", "plots=false"),
}


def section(text: str, title: str) -> str:
    start = re.search(rf"^## {re.escape(title)}.*$", text, re.M)
    assert start, f"README has no section {title!r}"
    rest = text[start.end() :]
    end = re.search(r"^## ", rest, re.M)
    return rest[: end.start()] if end else rest


def recipe_blocks() -> list[list[str]]:
    """Each bash block of the recipe sections as its list of `hopfield` lines (comments included)."""
    text = README.read_text()
    blocks = []
    for title in SECTIONS:
        for block in re.findall(r"```bash\n(.*?)```", section(text, title), re.S):
            lines = [ln for ln in block.splitlines() if ln.startswith("hopfield ")]
            if lines:
                blocks.append(lines)
    return blocks


def command_of(line: str) -> str:
    return re.split(r"\s+#\s", line, maxsplit=1)[0].strip()


def seconds(line: str) -> float:
    """The time a recipe states in its comment: '(12 s)', '(1.5 min)' or '(75 s: why)'."""
    comment = re.split(r"\s+#\s", line, maxsplit=1)[1] if re.search(r"\s+#\s", line) else ""
    found = re.search(r"\((\d+(?:\.\d+)?) (s|min)[):]", comment)
    assert found, f"no time like '(12 s)' in the comment of: {line}"
    return float(found.group(1)) * (60 if found.group(2) == "min" else 1)


# Sizes a recipe sets itself, capped in the test (the README's timing runs keep them).
CAPS = {"num_patterns": 2000, "num_queries": 200}


def smaller(args: list[str]) -> list[str]:
    if not args or args[0] not in SMALLER or "--cfg" in args or "-h" in args:
        return args
    capped = []
    for arg in args:
        key, _, value = arg.partition("=")
        if key in CAPS and value.isdigit() and int(value) > CAPS[key]:
            arg = f"{key}={CAPS[key]}"
        capped.append(arg)
    given = {a.split("=", 1)[0] for a in capped if "=" in a}
    return [*capped, *(o for o in SMALLER[args[0]] if o.split("=", 1)[0] not in given)]


BLOCKS = recipe_blocks()


def test_the_readme_has_recipes_and_each_states_its_time():
    lines = [ln for block in BLOCKS for ln in block]
    assert len(lines) >= 20
    for line in lines:
        assert seconds(line) <= MAX_SECONDS, line


@pytest.mark.slow  # in process, but a block runs 3-20 commands
@pytest.mark.e2e
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_recipe_runs_as_written(run_cli, tmp_path, block):
    (tmp_path / "examples").symlink_to(REPO / "examples")
    for line in block:
        args = smaller(shlex.split(command_of(line))[1:])
        proc = run_cli(*args)
        assert proc.returncode == 0, (
            f"{line}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}\n{proc.exception!r}"
        )


def test_the_example_user_config_is_the_one_the_readme_shows():
    text = (REPO / "examples" / "my_retrieve.yaml").read_text()
    assert "defaults:" in text and "- retrieve" in text
    assert "hopfield retrieve -cd examples -cn my_retrieve" in README.read_text()
    assert Path(REPO / "examples" / "faces").is_dir()
