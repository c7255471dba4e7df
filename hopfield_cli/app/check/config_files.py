"""A user's own config files (``-cd DIR``: primary configs, experiments, group options), checked before Hydra
reads them, with the same one-line contract as an override.

Hydra reads a config file with OmegaConf's YAML loader and reports what goes wrong as a traceback (a Python
tag, a duplicate key, a tab, a NUL byte, a top-level scalar, a defaults list that names its own file) or never
ends (an alias bomb: a few hundred bytes whose aliases expand to billions of values). ``check_config_file``
reads the file once, as a stream of YAML events (PyYAML's parser keeps a stack, not Python's: deep nesting
cannot overflow it), and refuses what Hydra cannot take in one line naming the file and its line:
``error: <file>: line <n>: <what is wrong>``. It takes milliseconds for any file under ``MAX_BYTES``.

``guard_file_sources`` makes Hydra's file config source run the check on every file it loads from outside the
package's own ``conf/``, so each file is checked exactly when (and only if) the composition needs it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hopfield_cli.errors import UsageError

MAX_BYTES = 1 << 20  # a config file is text a person writes: 1 MiB is far above any real one
MAX_DEPTH = 32  # nested mappings/lists (as for overrides: OmegaConf recurses a few frames per level)
MAX_VALUES = 100_000  # values once every alias is expanded (OmegaConf copies each alias's node)
SAFE_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "binary", "timestamp")
}


def _refuse(path: Path, line: int | None, what: str) -> UsageError:
    return UsageError(str(path), f"line {line}: {what}" if line is not None else what)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def check_config_file(path: Path | str, name: str | None = None, package_dir: str | None = None) -> None:
    """Refuse, in one line naming ``path`` and the line, a config file Hydra could not read cleanly
    (``name``: its config path, e.g. ``model/mine``, to find a defaults list that includes the file itself)."""
    import yaml

    path = Path(os.path.abspath(path))
    try:
        size = os.stat(path).st_size
        if size > MAX_BYTES:
            raise _refuse(path, None, f"is {size:,} bytes; a config file may hold at most {MAX_BYTES:,}")
        with open(path, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _refuse(path, None, f"cannot read it: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise _refuse(path, _line_of(data, data.index(b"\0")), "a NUL byte; a config file is text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(path, _line_of(data, exc.start), "not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            raise _refuse(path, number, "a tab in the indentation; YAML indents with spaces")
    _check_events(path, text, yaml)
    _check_defaults(path, text, name, package_dir)


def _check_events(path: Path, text: str, yaml: Any) -> None:
    """Tags, nesting, alias expansion, duplicate keys and the top-level kind, from the event stream."""
    from yaml import events as ev

    # One frame per open collection: [kind, values below it, keys seen (mappings), expecting a key].
    stack: list[list[Any]] = []
    sizes: dict[str, int] = {}  # anchor -> values it expands to
    anchors_open: list[tuple[str, int]] = []  # (anchor, index in stack) of collections being read
    roots = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1 if event.start_mark is not None else None
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in SAFE_TAGS:
                shown = tag.replace("tag:yaml.org,2002:", "!!")
                raise _refuse(path, line, f"the tag {shown} is not allowed; a config holds plain values only")
            if isinstance(
                event, (ev.MappingStartEvent, ev.SequenceStartEvent, ev.ScalarEvent, ev.AliasEvent)
            ):
                value_size = 1
                if isinstance(event, ev.AliasEvent):
                    value_size = sizes.get(event.anchor, 1)
                if not stack:
                    roots += 1
                    if not isinstance(event, ev.MappingStartEvent) and not (
                        isinstance(event, ev.ScalarEvent)
                        and event.value in ("", "~", "null")
                        and not event.style
                    ):
                        kind = "a list" if isinstance(event, ev.SequenceStartEvent) else "a single value"
                        raise _refuse(
                            path, line, f"the file holds {kind}; a config is a mapping (key: value)"
                        )
                else:
                    frame = stack[-1]
                    if frame[0] == "map" and frame[3]:  # a key
                        key = event.value if isinstance(event, ev.ScalarEvent) else None
                        if key is not None:
                            if key in frame[2]:
                                raise _refuse(
                                    path,
                                    line,
                                    f"the key '{key}' is given twice (first at line {frame[2][key]})",
                                )
                            frame[2][key] = line
                    if frame[0] == "map":
                        frame[3] = not frame[3]
                    for open_frame in stack:
                        open_frame[1] += value_size
                    if stack[0][1] > MAX_VALUES:
                        raise _refuse(
                            path, line, f"expands to more than {MAX_VALUES:,} values (aliases of aliases)"
                        )
                if isinstance(event, (ev.MappingStartEvent, ev.SequenceStartEvent)):
                    stack.append(["map" if isinstance(event, ev.MappingStartEvent) else "seq", 1, {}, True])
                    if len(stack) > MAX_DEPTH:
                        raise _refuse(path, line, f"is nested more than {MAX_DEPTH} levels deep")
                    if event.anchor:
                        anchors_open.append((event.anchor, len(stack) - 1))
                elif event.anchor:
                    sizes[event.anchor] = value_size
            elif isinstance(event, (ev.MappingEndEvent, ev.SequenceEndEvent)):
                frame = stack.pop()
                while anchors_open and anchors_open[-1][1] == len(stack):
                    sizes[anchors_open.pop()[0]] = frame[1]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = " ".join(str(exc.problem or exc.context or "not YAML").split())
        raise _refuse(path, mark.line + 1 if mark else None, f"not YAML: {what}") from None
    except yaml.YAMLError as exc:
        raise _refuse(path, None, f"not YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise _refuse(path, None, f"is nested more than {MAX_DEPTH} levels deep") from None
    if roots > 1:
        raise _refuse(path, None, "holds several YAML documents (---); a config is one mapping")


def _check_defaults(path: Path, text: str, name: str | None, package_dir: str | None) -> None:
    """A defaults list naming the file itself would make Hydra load it again and again.

    ``name`` is the file's config path below its search-path folder (``my_retrieve``, ``model/mine``); an entry
    is relative to the file's group unless it starts with ``/``. A name the package also has resolves to the
    package's file (the package's folder comes first), so it is no loop.
    """
    import yaml

    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "defaults" not in data or name is None:
        return
    defaults = data["defaults"]
    if not isinstance(defaults, list):
        raise _refuse(path, _key_line(text, "defaults"), "defaults must be a list (- name, - group: option)")
    group = name.rpartition("/")[0]
    for entry in defaults:
        if isinstance(entry, str):
            pairs = [(None, entry)]
        elif isinstance(entry, dict):
            pairs = [(str(k), v) for k, v in entry.items() if isinstance(v, str)]
        else:
            continue
        for key, option in pairs:
            if key is None:
                target = option[1:] if option.startswith("/") else "/".join(p for p in (group, option) if p)
            else:
                key = key.split()[-1]  # "override model", "optional model"
                where = key[1:] if key.startswith("/") else "/".join(p for p in (group, key) if p)
                target = f"{where}/{option}"
            if target != name:
                continue
            if package_dir is not None and os.path.isfile(os.path.join(package_dir, f"{target}.yaml")):
                continue
            raise _refuse(
                path,
                _key_line(text, option),
                f"the defaults list includes the file itself ('{option}'); name the config it extends",
            )


def _key_line(text: str, word: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if word in line:
            return number
    return None


def guard_file_sources(package_dir: str) -> None:
    """Check every config file Hydra loads from outside ``package_dir`` before it is parsed (once per process)."""
    from hydra._internal.core_plugins.file_config_source import FileConfigSource

    if getattr(FileConfigSource.load_config, "_hopfield_checked", False):
        return
    original = FileConfigSource.load_config
    inside = os.path.realpath(package_dir) + os.sep

    def load_config(self: Any, config_path: str) -> Any:
        normalized = self._normalize_file_name(config_path)
        full = os.path.realpath(os.path.join(self.path, normalized))
        if not full.startswith(inside) and os.path.isfile(full):
            check_config_file(full, normalized[: -len(".yaml")], package_dir)
        return original(self, config_path)

    load_config._hopfield_checked = True  # type: ignore[attr-defined]
    FileConfigSource.load_config = load_config  # type: ignore[method-assign]
