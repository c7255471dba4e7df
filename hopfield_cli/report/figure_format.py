"""The run's ``figures.format`` and ``figures.dpi``, read by ``figures.save`` (the one place that writes a
figure); apart from ``figures`` so that setting them costs no matplotlib import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

FORMATS = ("png", "pdf", "svg")
# (format, dpi) of the run in progress; None: PNG at each figure's own dpi.
_settings: ContextVar[tuple[str, int | None] | None] = ContextVar("hopfield_figures", default=None)


@contextmanager
def figure_settings(fmt: str = "png", dpi: int | None = None) -> Iterator[None]:
    """While a run lasts, every figure it saves is written as ``fmt`` (png, pdf, svg) at ``dpi`` (None: the
    figure's own, 100-120)."""
    token = _settings.set((fmt, dpi))
    try:
        yield
    finally:
        _settings.reset(token)


def current() -> tuple[str, int | None]:
    return _settings.get() or ("png", None)
