"""The text that `hopfield attention-heads model=...` and `hopfield train task=mlm` read: ``text=pydoc|FILE``.

``pydoc`` is the help-topic text shipped with Python (``pydoc_data.topics``, 79 topics, 465,126
characters), taken from Python 3.11.7, joined in sorted topic order with blank lines between topics. The topics
change between Python versions, so the text is shipped as a snapshot (``pydoc_topics.txt.xz``, the Python
Software Foundation's documentation under the PSF licence) and its SHA-256 is checked on every load: every
Python gives the same text, and so the same tokens, windows and numbers. A FILE is read as UTF-8.
"""

from __future__ import annotations

import hashlib
import lzma
from functools import lru_cache
from pathlib import Path

from hopfield_cli.errors import UsageError

SNAPSHOT = Path(__file__).with_name("pydoc_topics.txt.xz")
PYDOC_SHA256 = "71f2ff5d99bdc1f9c48c5c2353ad138201c5ca1c377e0226857ef8fa89b8bcee"
PYDOC_CHARS = 465_126


@lru_cache(maxsize=2)
def pydoc_text() -> str:
    """The pinned pydoc help-topic text (refused in one line if the snapshot is missing or altered)."""
    try:
        raw = lzma.decompress(SNAPSHOT.read_bytes())
    except (OSError, lzma.LZMAError) as exc:
        raise UsageError("text", f"cannot read the pinned pydoc snapshot {SNAPSHOT}: {exc}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != PYDOC_SHA256:
        raise UsageError(
            "text", f"{SNAPSHOT} has SHA-256 {digest}, expected {PYDOC_SHA256}; reinstall hopfield"
        )
    return raw.decode("utf-8")


def load_text(text: str, field: str = "text") -> tuple[str, str]:
    """(the text, its SHA-256) for ``text=pydoc`` or a UTF-8 file path."""
    if text == "pydoc":
        return pydoc_text(), PYDOC_SHA256
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(field, f"must be pydoc or a UTF-8 text file, got '{text}' (no such file)")
    try:
        raw = path.read_bytes()
        body = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(field, f"cannot read {path} as UTF-8 text: {exc}") from None
    if not body.strip():
        raise UsageError(field, f"{path} is empty")
    return body, hashlib.sha256(raw).hexdigest()
