"""One run per folder: an exclusive lock on a run, resume or sweep folder for as long as a run writes it.

Two runs writing one folder would interleave their cells and overwrite each other's tables, and both would exit
0 with one run's results lost. ``folder_lock`` takes an exclusive ``flock`` on ``<folder>/.hopfield.lock``
(NFS clients emulate ``flock`` with whole-file locks, so it holds on a cluster's shared disk too) without
waiting: a second run is refused in one line. The lock belongs to the open file, so it ends with the run
however the run ends, SIGKILL included; it is re-entrant within one process (a sweep resumed into its own run
folder takes it twice).

Whoever holds the lock owns the folder's temporary files: those a killed run left behind (``files.atomic_write``
names them ``.<name>.XXXXXXXX.tmp``; SIGKILL gives no chance to remove them) are removed when the lock is taken.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hopfield_cli.errors import UsageError

LOCK_FILE = ".hopfield.lock"
STALE_TEMP = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")  # tempfile.mkstemp(prefix=".<name>.", suffix=".tmp")
_held: dict[str, list[int]] = {}  # real path of a locked folder -> [descriptor, depth]


@contextmanager
def folder_lock(folder: Path | str, field: str) -> Iterator[None]:
    """Hold ``folder`` (created if missing) for this process, or raise ``UsageError(field, ...)`` at once."""
    key = os.path.realpath(os.path.expanduser(str(folder)))
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    fd = _acquire(key, field, folder)
    _held[key] = [fd, 1]
    try:
        _remove_stale_temporaries(Path(key))
        yield
    finally:
        del _held[key]
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(key: str, field: str, shown: Path | str) -> int:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): nothing to hold
        return os.open(os.devnull, os.O_RDONLY)
    try:
        os.makedirs(key, exist_ok=True)
        fd = os.open(
            os.path.join(key, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666
        )
    except OSError as exc:
        raise UsageError(field, f"cannot use the folder {shown}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise UsageError(
            field,
            f"{shown} is being written by another hopfield run; wait for it to end or choose another folder",
        ) from None
    except OSError:  # a file system without locks (ENOLCK): run unlocked, as before
        pass
    return fd


def _remove_stale_temporaries(folder: Path) -> None:
    for path in folder.iterdir():
        if STALE_TEMP.match(path.name) and path.is_file():
            try:
                path.unlink()
            except OSError:
                pass
