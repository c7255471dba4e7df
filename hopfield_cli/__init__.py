"""hopfield: a command-line experiment runner for modern Hopfield networks (Ramsauer et al., ICLR 2021).

``import hopfield_cli as hf`` gives the Python API (``hopfield_cli.api``: ``retrieve``, ``update``, ``energy``,
``run``, the layers), loaded on first use so that the command line starts without it.
"""

__version__ = "0.1.0"

_API = (
    "Hopfield",
    "HopfieldError",
    "HopfieldLayer",
    "HopfieldPooling",
    "Retrieval",
    "RunResult",
    "energy",
    "retrieve",
    "run",
    "update",
)


def __getattr__(name: str):
    if name in _API:
        from hopfield_cli import api  # the top of the package: imported lazily, never by the package itself

        return getattr(api, name)
    raise AttributeError(f"module 'hopfield_cli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
