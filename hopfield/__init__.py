"""``import hopfield as hf``: the short name of the Python API, ``hopfield_cli.api`` (README "Python API")."""

from hopfield_cli import __version__  # noqa: F401
from hopfield_cli.api import *  # noqa: F403
from hopfield_cli.api import __all__  # noqa: F401
