"""The core's own errors: a bad core parameter, or a run that cannot fit in memory.

The core names the parameter by its own name (``beta``, ``n``, ``update_rule``, ``alpha``, ``memory_budget``,
``patterns``, ``queries``, ``model``); the shell above maps that name to the field the user set.
"""

from __future__ import annotations


class CoreError(ValueError):
    """A core parameter with a value the core cannot use; ``str(error)`` is the one-line message."""

    def __init__(self, param: str, message: str):
        self.param = param
        self.message = " ".join(str(message).split())  # always one line
        super().__init__(self.message)


class BudgetError(CoreError):
    """A run, or one score block of it, that cannot fit in memory (param ``memory_budget``)."""
