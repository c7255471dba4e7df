"""Result files, each written atomically: text, strict JSON, tidy tables and the run's reproducibility record.

``atomic_write`` is the one way anything here (and the memory file, and the figures) reaches the disk: the
content goes to a temporary file in the target's folder, is fsync'ed and then renamed over the target with
``os.replace``, so a reader (or a run killed half way) never sees half a file. A target must be a regular
file or absent: the rename would otherwise swap a device node or a FIFO (``out=/dev/null`` as root) for our
results. Any failure (a full disk, a file-size limit, an immutable file) leaves the old file as it was, removes
the temporary file and is raised as one ``OSError`` naming the target. A temporary file is named
``.<name>.<pid>@<host>.XXXXXXXX.tmp``: the next write of the same target removes those left by a process of
this host that no longer runs (a SIGKILL gives no chance to clean up), wherever the target lies (``out=``). Heavy libraries (pandas, numpy, torch,
omegaconf) are imported only inside the functions that need them.
"""

from __future__ import annotations

import errno
import json
import math
import os
import platform
import secrets
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def atomic_write(path: Path | str, write_fn: Callable[[str], None]) -> Path:
    """Call ``write_fn(tmp_path)`` then move the fsync'ed result onto ``path``; return ``path``.

    The temporary file lies in the same folder (so the rename is atomic), gets the usual umask permissions
    (``mkstemp`` alone makes 0600 files) and is removed on any failure, KeyboardInterrupt included. Missing
    parent folders are created. An ``OSError`` (``path`` not a regular file, a full disk, ``ulimit -f``, an
    immutable file) comes out with ``path`` as its file name and the system's words for its errno.
    """
    path = Path(path).expanduser()
    tmp = None
    try:
        check_regular(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(path)
        while True:  # O_EXCL: never an existing file (a name taken by chance is drawn again)
            tmp = _temporary_name(path)
            try:
                os.close(
                    os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
                )
                break
            except FileExistsError:
                continue
        write_fn(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            _remove(tmp)
        raise write_error(exc, path) from exc
    except BaseException:
        if tmp is not None:
            _remove(tmp)
        raise
    return path


def _temporary_name(path: Path) -> str:
    """A fresh name for a temporary beside ``path``, chosen before the file exists: ``atomic_write`` then knows
    what to remove whenever an interrupt arrives (a Ctrl-C inside ``mkstemp`` could leave a file whose name it
    never returned: seen in a CI run of the SIGINT test)."""
    return str(path.parent / f"{_temp_prefix(path)}{secrets.token_hex(4)}.tmp")


def _temp_prefix(path: Path) -> str:
    owner = f".{path.name}.{os.getpid()}@{socket.gethostname()}."
    return owner if len(os.fsencode(owner)) <= 230 else f".{path.name[:100]}."  # within NAME_MAX (255)


def remove_dead_temporaries(path: Path) -> None:
    """Remove the temporary files of ``path`` that a process of this host left when it was killed."""
    head, host = f".{path.name}.", socket.gethostname()
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(head) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        owner = name[len(head) : -len(".tmp")].rsplit(".", 1)[0]  # "<pid>@<host>"
        pid, _, their_host = owner.partition("@")
        if their_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        full = path.parent / name
        if full.is_file() and not full.is_symlink():
            _remove(str(full))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def check_regular(path: Path | str) -> None:
    """``path`` is absent or a regular file (a symlink is followed); else an ``OSError`` that says what it is."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, FIFO or socket)"
    code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
    raise OSError(code, f"{kind}; results are written only to regular files", str(path))


def write_error(exc: OSError, path: Path | str) -> OSError:
    """``exc`` as an OSError of the same errno naming ``path`` (pyarrow's and mkstemp's name another file)."""
    if exc.filename == str(path) and exc.strerror:
        return exc
    words = os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc))
    return OSError(exc.errno or errno.EIO, words, str(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(file: str) -> None:
    fd = os.open(file, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(file: str) -> None:
    try:
        os.unlink(file)
    except OSError:
        pass


def write_text(path: Path | str, text: str) -> Path:
    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, _write)


def write_json(path: Path | str, data: Any) -> Path:
    """Strict JSON: NaN and +-inf (a separation with one pattern, a bound that does not apply) become null.

    A run's ``summary.json`` also gets the run's ``resources`` (device, dtype, threads; ``add_provenance``)."""
    meta = _provenance.get()
    if Path(path).name == "summary.json" and isinstance(data, dict) and meta and "resources" in meta:
        data = {**data, "resources": meta["resources"]}
    return write_text(
        path, json.dumps(_finite(data), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return _finite(value.item())
    return value


# --- tables that carry their provenance ----------------------------------------------------------------

PROVENANCE_KEY = "hopfield"  # the Parquet schema metadata key (JSON); pandas also shows it as df.attrs
_provenance: ContextVar[dict[str, Any] | None] = ContextVar("hopfield_provenance", default=None)


@contextmanager
def provenance(command: str, config: dict[str, Any], seed: Any) -> Iterator[None]:
    """While a run lasts, every table it writes carries its command, composed config, seed and versions."""
    token = _provenance.set({"command": command, "config": config, "seed": seed, "versions": versions()})
    try:
        yield
    finally:
        _provenance.reset(token)


def add_provenance(**entries: Any) -> None:
    """Add entries to the provenance of the run in progress (``resources``: device, dtype, threads); they go
    into its tables, its ``run_info.json`` and its ``summary.json``. Nothing when no run is in progress."""
    meta = _provenance.get()
    if meta is not None:
        meta.update(entries)


def _sweep_provenance(folder: Path) -> dict[str, Any] | None:
    """A sweep folder's merged tables: the sweep's config and overrides from Hydra's ``multirun.yaml``."""
    try:
        from omegaconf import OmegaConf

        cfg = OmegaConf.to_container(OmegaConf.load(folder / "multirun.yaml"), resolve=False)
    except Exception:  # noqa: BLE001 - no (readable) multirun.yaml: versions only
        return None
    if not isinstance(cfg, dict):
        return None
    hydra = cfg.pop("hydra", None) or {}
    overrides = hydra.get("overrides", {}).get("task") if isinstance(hydra, dict) else None
    return {"command": hydra.get("job", {}).get("name"), "config": cfg, "sweep_overrides": overrides}


def table_provenance(folder: Path) -> dict[str, Any]:
    """What ``write_table`` stores with a table written into ``folder`` now."""
    meta = _provenance.get() or _sweep_provenance(folder) or {}
    return {**meta, "versions": meta.get("versions") or versions(), "written_utc": _now()}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write_parquet(df: pd.DataFrame, tmp: str, meta: dict[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    text = json.dumps(_finite(meta), sort_keys=True, default=str)
    extra = {
        PROVENANCE_KEY.encode(): text.encode(),
        b"PANDAS_ATTRS": json.dumps({PROVENANCE_KEY: json.loads(text)}).encode(),
    }
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **extra}), tmp)


def read_provenance(path: Path | str) -> dict[str, Any]:
    """The provenance stored in a Parquet file by ``write_table`` ({} when it has none)."""
    import pyarrow.parquet as pq

    raw = (pq.read_schema(path).metadata or {}).get(PROVENANCE_KEY.encode())
    return json.loads(raw) if raw else {}


def write_table(df: pd.DataFrame, run_dir: Path | str, stem: str = "results") -> tuple[Path, Path]:
    """Write ``df`` as ``<stem>.parquet`` and ``<stem>.csv`` in ``run_dir``, each atomically.

    The Parquet file carries the run's provenance (``provenance``; a sweep folder's: its ``multirun.yaml``) as
    JSON under the schema metadata key ``hopfield``: command, composed config, seed, package versions, time.
    ``read_provenance(path)`` reads it back; pandas shows it as ``pd.read_parquet(path).attrs["hopfield"]``.
    """
    run_dir = Path(run_dir)
    meta = table_provenance(run_dir)
    parquet = atomic_write(run_dir / f"{stem}.parquet", lambda tmp: _write_parquet(df, tmp, meta))
    csv = atomic_write(run_dir / f"{stem}.csv", lambda tmp: df.to_csv(tmp, index=False))
    return parquet, csv


def versions() -> dict[str, str]:
    """Versions of the packages that decide results (hopfield_cli's from its installed metadata)."""
    import numpy
    import omegaconf
    import pandas
    import torch

    try:
        own = metadata.version("hopfield-cli")
    except metadata.PackageNotFoundError:
        own = "unknown"
    return {
        "hopfield_cli": own,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pandas.__version__,
        "omegaconf": omegaconf.__version__,
    }


def device_description(device: Any) -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def write_run_info(run_dir: Path | str, command: str, seed: int, device: Any, **extra: Any) -> Path:
    """Save what reproduces a run beside its results: seed, versions, device, command line, host."""
    info = {
        "command": command,
        "argv": sys.argv,
        "seed": seed,
        "device": device_description(device),
        "versions": versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    meta = _provenance.get()
    if meta and "resources" in meta:
        info["resources"] = meta["resources"]
    info.update(extra)
    return write_json(Path(run_dir) / "run_info.json", info)
