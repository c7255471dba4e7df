"""`hopfield capacity-sweep`: success rate against N per (model, beta, d), and the capacity with its theory.

- ``sweep``: the command (``run``, ``footprint``): series, cells, resume, the console summary.
- ``schedule``: which N a series measures next (growth, then bracketing and refinement of the crossing).
- ``bank``: the stored patterns, every N a prefix of one deterministic stream per (d, trial), drawn in blocks.
- ``table``: the capacity table, its interval and the theory beside it (Ramsauer et al. 2021, Theorem 3).
"""
