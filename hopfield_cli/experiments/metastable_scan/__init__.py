"""`hopfield metastable-scan`: where queries end as beta rises (Ramsauer et al. 2021, Section 2, Lemma A3).

- ``scan``: the command (``run``, ``footprint``): the beta grid, cells, resume.
- ``table``: the per-beta table, where the dominant fixed-point kind changes, the summary beside the theory.
"""
