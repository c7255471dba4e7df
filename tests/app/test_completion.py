"""Shell completion of `hopfield <command> ...`: keys, groups, options, values and flags from the schemas."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hopfield_cli.app.completion import candidates, script


def test_keys_groups_and_option_fields():
    assert candidates("retrieve", [], "mod") == ["model="]
    assert "model=dense" in candidates("retrieve", [], "model=d")
    dense = candidates("retrieve", ["model=dense"], "model.")
    assert "model.n=" in dense and "model.rectified=" in dense
    assert "model.n=" not in candidates("retrieve", [], "model.")  # modern, the default, has no n
    assert candidates("retrieve", [], "corruption.p") == ["corruption.p="]  # flip is the default
    assert "families.dense.n=" in candidates("capacity-sweep", [], "families.dense.")
    assert not any(c.startswith("model=") for c in candidates("capacity-sweep", [], "mod"))  # models= only
    assert "hydra.run.dir=" in candidates("store", [], "hydra.")


def test_values_and_flags():
    assert candidates("retrieve", [], "success=") == ["success=nearest", "success=cosine", "success=mse"]
    assert candidates("retrieve", [], "binarise=t") == ["binarise=true"]
    assert candidates("retrieve", ["--cfg"], "") == ["job", "hydra", "all"]
    assert candidates("retrieve", [], "-c") == ["-cd", "-cn"]
    assert "hydra/launcher=joblib" in candidates("capacity-sweep", [], "hydra/launcher=j")


def test_the_typer_protocol_answers_with_the_candidates(run_cli, monkeypatch):
    """What a shell asks (``_HOPFIELD_COMPLETE=complete_bash``), bash's own split at '=' included."""
    from typer.testing import CliRunner

    from hopfield_cli.cli import app

    def ask(line: str) -> list[str]:
        words = line.split()
        cword = len(words) if line.endswith(" ") else len(words) - 1
        env = {"_HOPFIELD_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(cword)}
        result = CliRunner().invoke(app, [], env=env, prog_name="hopfield")
        return result.output.split()

    assert ask("hopfield ret") == ["retrieve"]
    assert ask("hopfield retrieve model=dense model.") == ["model.n=", "model.rectified="]
    assert ask("hopfield retrieve model = de") == ["model=dense"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_a_key_value_pair(tmp_path):
    """Bash splits ``model=de`` at '='; the script hands Python the line as typed and keeps the value only."""
    from tests.conftest import hopfield_command

    exe = hopfield_command()
    if len(exe) != 1:
        pytest.skip("needs the installed console script")
    (tmp_path / "comp.bash").write_text(script("bash").replace('"${words[0]}"', exe[0]))
    probe = (
        "source comp.bash; for line in 'hopfield retrieve model=d' 'hopfield retrieve mod'; do "
        'COMP_LINE="$line"; COMP_POINT=${#line}; COMPREPLY=(); _hopfield_completion 2>/dev/null; '
        'echo "${COMPREPLY[*]}"; done'
    )
    out = subprocess.run(
        ["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True, env=dict(os.environ)
    )
    assert out.stdout.splitlines() == ["dense", "model="], out.stderr


def test_completion_scripts_are_printed(run_cli):
    proc = run_cli("--completion", "bash")
    assert proc.returncode == 0 and "complete -o default -F _hopfield_completion hopfield" in proc.stdout
    assert "_HOPFIELD_COMPLETE" in run_cli("--completion", "zsh").stdout


def test_the_zsh_protocol_answers_with_arguments(run_cli):
    """zsh's function asks with ``complete_zsh`` and the words so far; the answer is an ``_arguments`` list."""
    from typer.testing import CliRunner

    from hopfield_cli.cli import app

    env = {"_HOPFIELD_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "hopfield retrieve model=d"}
    out = CliRunner().invoke(app, [], env=env, prog_name="hopfield").output
    assert out.startswith("_arguments") and '"model=dense"' in out and "model=modern" not in out
    assert "compdef _hopfield_completion hopfield" in run_cli("--completion", "zsh").stdout


@pytest.mark.skipif(shutil.which("fish") is None, reason="needs fish (apt-get install fish)")
def test_the_fish_script_completes_keys_and_options(tmp_path):
    """fish sources ``hopfield --completion fish`` and asks it with ``complete -C``, as at its prompt."""
    from tests.conftest import hopfield_command

    exe = hopfield_command()
    if len(exe) != 1:
        pytest.skip("needs the installed console script")
    env = dict(os.environ, PATH=f"{os.path.dirname(exe[0])}{os.pathsep}{os.environ['PATH']}")
    probe = (
        "hopfield --completion fish | source; "
        "complete -C 'hopfield retrieve mod'; echo ==; complete -C 'hopfield retrieve model=e'"
    )
    out = subprocess.run(["fish", "-c", probe], cwd=tmp_path, capture_output=True, text=True, env=env)
    first, second = out.stdout.split("==\n")
    assert first.split() == ["model="], out.stderr
    assert second.split() == ["model=exponential"], out.stderr
