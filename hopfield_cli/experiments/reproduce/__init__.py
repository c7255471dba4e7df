"""`hopfield reproduce`: the paper's testable claims, each measured, with a verdict computed from the numbers.

``claims`` holds the claim record and the verdict rules, ``profiles`` the sizes of each profile, one module per
group of claims measures them (``core_claims``, ``capacity_claims``, ``fixed_point_claims``, ``head_claims``,
``image_claims``), and ``run`` runs the groups (resumable: one cell per group in the run folder's cell log)
and writes the report (``report.claims_report``).
"""
