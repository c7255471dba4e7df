"""The package's layers: calls only go down, and no module imports itself through others.

Every ``import`` of every module (at module level or inside a function) is read with ``ast``. Layers, top to
bottom: cli -> app -> experiments -> config -> data | nn -> core; ``report`` and ``errors`` are at the bottom,
``core`` imports nothing of the package outside ``core`` and ``nn`` (the layers, torch only) nothing outside
``nn`` and ``core``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hopfield_cli"
LAYERS = {
    "__main__": 7,
    "api": 7,
    "cli": 6,
    "app": 5,
    "experiments": 4,
    "config": 3,
    "data": 2,
    "nn": 2,
    "core": 1,
}
BOTTOM = ("report", "errors", "__init__")  # importable from anywhere; import nothing above themselves


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The hopfield_cli modules ``path`` imports (``from a import b`` counts a.b when it is a module)."""
    found = set()
    tree = ast.parse(path.read_text())
    typing_only = {  # `if TYPE_CHECKING:` imports never run
        id(n)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for n in ast.walk(block)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hopfield_cli")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hopfield_cli"):
            found.add(node.module)
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                if (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").is_file() or (
                    PACKAGE.parent / candidate.replace(".", "/") / "__init__.py"
                ).is_file():
                    found.add(candidate)
    return found


def layer(module: str) -> int:
    part = module.split(".")[1] if "." in module else "__init__"
    return 0 if part in BOTTOM else LAYERS[part]


def graph() -> dict[str, set[str]]:
    """Every module's imports; the package's own ``__getattr__`` that loads the API on first use (the one
    import of the top layer from the bottom, made when a user asks for ``hopfield_cli.run``) is left out."""
    edges = {module_name(p): imports(p) for p in sorted(PACKAGE.rglob("*.py"))}
    edges["hopfield_cli"] -= {"hopfield_cli.api"}
    return edges


def test_calls_only_go_down():
    upward = [
        f"{importer} (layer {layer(importer)}) imports {imported} (layer {layer(imported)})"
        for importer, targets in graph().items()
        for imported in targets
        if layer(imported) > layer(importer)
    ]
    assert not upward, "\n".join(upward)


def test_core_imports_only_core():
    outside = [
        f"{importer} imports {imported}"
        for importer, targets in graph().items()
        if importer.startswith("hopfield_cli.core")
        for imported in targets
        if not imported.startswith("hopfield_cli.core")
    ]
    assert not outside, "\n".join(outside)


def test_nn_imports_only_nn_and_core():
    outside = [
        f"{importer} imports {imported}"
        for importer, targets in graph().items()
        if importer.startswith("hopfield_cli.nn")
        for imported in targets
        if not imported.startswith(("hopfield_cli.nn", "hopfield_cli.core"))
    ]
    assert not outside, "\n".join(outside)


def test_bottom_layers_import_nothing_above_them():
    wrong = [
        f"{importer} imports {imported}"
        for importer, targets in graph().items()
        if importer.startswith(("hopfield_cli.report", "hopfield_cli.errors"))
        for imported in targets
        if not imported.startswith(("hopfield_cli.report", "hopfield_cli.errors"))
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_circle():
    edges = graph()
    edges = {
        m: {t for t in ts if t in edges and t != m and not m.startswith(t + ".")} for m, ts in edges.items()
    }
    state: dict[str, int] = {}
    circle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        state[node] = 1
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circle.extend(path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt])
                return True
            if state.get(nxt) is None and visit(nxt, [*path, node]):
                return True
        state[node] = 2
        return False

    for start in sorted(edges):
        if state.get(start) is None and visit(start, []):
            break
    assert not circle, " -> ".join(circle)


def test_the_layer_test_sees_an_upward_import(tmp_path):
    """The check itself can fail: an experiment importing the shell is reported."""
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from hopfield_cli.app import launch\n")
    assert "hopfield_cli.app.run.launch" in imports(bad) or "hopfield_cli.app" in imports(bad)
    assert layer("hopfield_cli.app.run.launch") > layer("hopfield_cli.experiments.retrieve")


# One module or package per command under experiments/; the pieces beside them are shared.
COMMAND_PACKAGES = (
    "store",
    "retrieve",
    "capacity_sweep",
    "metastable_scan",
    "attention_heads",
    "train",
    "reproduce",
)


def _command_of(module: str) -> str | None:
    parts = module.split(".")
    if len(parts) > 2 and parts[1] == "experiments" and parts[2] in COMMAND_PACKAGES:
        return parts[2]
    return None


def test_commands_do_not_import_each_other():
    """A command's package imports the shared pieces, never another command's (``reproduce``, which runs the
    others' experiments for its claims, excepted); a shared piece imports no command."""
    wrong = []
    for importer, targets in graph().items():
        if not importer.startswith("hopfield_cli.experiments"):
            continue
        mine = _command_of(importer)
        for imported in targets:
            theirs = _command_of(imported)
            if theirs is not None and theirs != mine and mine != "reproduce":
                wrong.append(f"{importer} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_every_command_package_is_seen():
    """The packages named above exist, so the test above cannot pass by naming none of them."""
    modules = set(graph())
    for name in COMMAND_PACKAGES:
        assert f"hopfield_cli.experiments.{name}" in modules, name
    assert _command_of("hopfield_cli.experiments.capacity_sweep.bank") == "capacity_sweep"
    assert _command_of("hopfield_cli.experiments.scoring") is None
