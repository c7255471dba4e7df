"""Retrieval core: torch only. Knows nothing of the CLI, Hydra, Rich or pandas.

Conventions used throughout the core:
- ``patterns`` holds the N stored patterns as ROWS, shape (N, d). The paper writes X as d x N with
  patterns as columns; ``patterns`` is X^T.
- ``queries`` / ``states`` hold B state patterns xi as rows, shape (B, d).
"""
