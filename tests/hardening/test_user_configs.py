"""A user's own config file (``-cd DIR -cn NAME``, an experiment or a group option in DIR) gets the
one-line contract of an override: what Hydra cannot read cleanly is refused naming the file and its line,
within a second, with exit status 2 and no folder left behind."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import assert_one_clean_line
from tests.conftest import invoke as hopfield

HEAD = "defaults:\n  - retrieve\n  - _self_\n"


def bomb(levels: int = 9) -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefghij", "bcdefghijk"[: levels - 1], strict=False):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return HEAD + "\n".join(lines) + "\n"


CASES: dict[str, tuple[bytes, int | None, str]] = {
    "not-yaml": (HEAD.encode() + b"dim: [1, 2\n", 5, "not YAML"),
    "python-tag": (HEAD.encode() + b"dim: !!python/object/apply:os.system [echo]\n", 4, "tag"),
    "local-tag": (HEAD.encode() + b"dim: !env HOME\n", 4, "tag"),
    "duplicate-key": (HEAD.encode() + b"dim: 8\nseed: 1\ndim: 9\n", 6, "given twice"),
    "tab-indentation": (b"defaults:\n\t- retrieve\n", 2, "tab"),
    "defaults-include-itself": (b"defaults:\n  - me\n  - _self_\n", 2, "includes the file itself"),
    "deep-flow-nesting": (HEAD.encode() + b"dim: " + b"[" * 3000 + b"]" * 3000 + b"\n", 4, "nested"),
    "nul-byte": (HEAD.encode() + b"dim: 8\x00\n", 4, "NUL"),
    "not-utf8": (HEAD.encode() + b"dim: \xff\n", 4, "UTF-8"),
    "top-level-scalar": (b"42\n", 1, "a single value"),
    "top-level-list": (b"- retrieve\n", 1, "a list"),
    "two-documents": (HEAD.encode() + b"---\ndim: 8\n", None, "several YAML documents"),
    "alias-bomb": (bomb().encode(), None, "expands to more than"),
    "too-big": (HEAD.encode() + b"#" + b"x" * (2 << 20) + b"\n", None, "at most"),
}


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_primary_config_is_one_line_naming_file_and_line(tmp_path, monkeypatch, case):
    data, line, words = CASES[case]
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "my", "me", data)
    started = time.perf_counter()
    result = hopfield("retrieve", "-cd", "my", "-cn", "me", f"hydra.run.dir={tmp_path / 'run'}")
    assert time.perf_counter() - started < 5  # the check itself: see the timing test below
    where = f"line {line}: " if line is not None else ""
    text = assert_one_clean_line(result, str(path.resolve()), words)
    assert f"{path.resolve()}: {where}" in text
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("case", ["alias-bomb", "deep-flow-nesting", "too-big", "duplicate-key"])
def test_the_check_takes_under_a_second(tmp_path, case):
    from hopfield_cli.app.check.config_files import check_config_file
    from hopfield_cli.errors import UsageError

    path = write(tmp_path, "me", CASES[case][0])
    started = time.process_time()  # CPU time: what the check costs, whatever else the machine runs
    with pytest.raises(UsageError):
        check_config_file(path, "me")
    assert time.process_time() - started < 1.0


def test_a_bad_experiment_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path / "my" / "experiment",
        "mine",
        b"# @package _global_\n# retrieve: mine\ndim: 8\ndim: 9\n",
    )
    result = hopfield("retrieve", "-cd", "my", "experiment=mine", f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_clean_line(result, str(path.resolve()), "line 4: the key 'dim' is given twice")


def test_a_bad_group_option_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "my" / "model", "mine", b"name: modern\nname: dense\n")
    result = hopfield("retrieve", "-cd", "my", "model=mine", f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_clean_line(result, str(path.resolve()), "line 2")


def test_an_unused_bad_file_in_the_folder_does_not_block_a_good_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "my", "good", (HEAD + "num_patterns: 8\ndim: 8\nnum_queries: 4\n").encode())
    write(tmp_path / "my", "bad", CASES["python-tag"][0])
    write(tmp_path / "my" / "experiment", "bad", b"\xff\xfe")
    result = hopfield("retrieve", "-cd", "my", "-cn", "good", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 0, result.stderr


def test_a_good_config_with_anchors_and_its_own_group_is_used(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "my",
        "good",
        (HEAD + "num_patterns: &n 8\ndim: *n\nnum_queries: 4\nseed: 3\n").encode(),
    )
    result = hopfield("retrieve", "-cd", "my", "-cn", "good", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "dim: 8" in result.stdout and "seed: 3" in result.stdout


@pytest.mark.parametrize("name", ["retrieve", "store"])
def test_a_user_config_named_like_a_packaged_one_is_refused_with_the_way_out(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "my", name, (HEAD.replace("retrieve", name) + "seed: 3\n").encode())
    result = hopfield(
        "retrieve",
        "-cd",
        "my",
        *(["-cn", name] if name != "retrieve" else []),
        f"hydra.run.dir={tmp_path / 'r'}",
    )
    # -cd alone looks the command's own name up in the folder too
    assert_one_clean_line(result, "--config-name", f"-cn my_{name}")
    assert not (tmp_path / "r").exists()


# -cp/--config-path: Hydra's primary config folder. It was ignored by a run (the package's config ran instead)
# and ended --cfg/--hydra-help with Hydra's own "Primary config directory not found" and a traceback.
CONFIG_PATH_CASES = {
    "missing-folder": (["-cp", "nope"], "folder not found"),
    "missing-folder-cfg": (["--config-path", "nope", "--cfg", "job"], "folder not found"),
    "missing-folder-hydra-help": (["--config-path=nope", "--hydra-help"], "folder not found"),
    "missing-folder-multirun": (["-cp", "nope", "-m", "seed=1,2"], "folder not found"),
    "empty-folder": (["-cp", "empty"], "holds no .yaml config"),
    "no-command-config": (
        ["-cp", "my"],
        "holds no retrieve.yaml; allowed: -cn with one of its configs (good)",
    ),
    "no-named-config": (["-cp", "my", "-cn", "other"], "holds no other.yaml; allowed: -cn with one of its"),
    "a-file": (["-cp", "my/good.yaml", "-cn", "good"], "folder not found"),
    "two-folders": (["-cp", "my", "-cd", "empty", "-cn", "good"], "not both"),
}


@pytest.mark.parametrize("case", list(CONFIG_PATH_CASES))
def test_a_config_path_without_the_config_is_one_line(tmp_path, monkeypatch, case):
    args, words = CONFIG_PATH_CASES[case]
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "my", "good", (HEAD + "dim: 8\nseed: 3\n").encode())
    (tmp_path / "empty").mkdir()
    result = hopfield("retrieve", *args, "num_patterns=8", f"hydra.run.dir={tmp_path / 'run'}")
    assert_one_clean_line(result, "--config-path", words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "my"]  # no run folder, no outputs/


@pytest.mark.parametrize(
    "flag", [["-cp", "my"], ["--config-path", "my"], ["--config-path=my"], ["-cd", "my"]]
)
def test_a_config_path_with_the_config_is_used_like_config_dir(tmp_path, monkeypatch, flag):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "my", "good", (HEAD + "dim: 8\nseed: 3\n").encode())
    result = hopfield("retrieve", *flag, "-cn", "good", "--cfg", "job")
    assert result.returncode == 0, result.stderr
    assert "dim: 8" in result.stdout and "seed: 3" in result.stdout
