"""The N schedule of one capacity series: which number of stored patterns to measure next.

Growth from ``n_start`` by ``growth`` until the pooled success rate falls clearly below ``threshold`` (or below
it twice in a row, or N reaches the limit), then ``refine_steps`` geometric bisections of the crossing. A pure
function of the rates measured so far, so a resumed sweep revisits exactly the Ns of an uninterrupted one.
"""

from __future__ import annotations

import math
from typing import Any

FLOOR = 0.25  # growth stops at a rate <= FLOOR x threshold (``clearly_failed``)
HELD_N_MAX = 1_000_000  # n_max=null where patterns are held in memory (any family but modern, a file, ...)
UNBOUNDED_N = 1 << 40  # n_max=null where every pattern is drawn block by block: grow until the crossing


def streams_only(cfg: Any) -> bool:
    """Whether every series of the sweep reads its patterns drawn block by block (``bank.DrawnPatterns``):
    generated patterns, the modern network alone, normalise none/unit. Memory is then bounded whatever N is."""
    from hopfield_cli.experiments.footprint import generated

    return (
        generated(cfg)
        and set(cfg.models) == {"modern"}
        and str(getattr(cfg, "normalise", "none")) in ("none", "unit")
    )


def n_limit(cfg: Any) -> int:
    """The largest N of the sweep: ``n_max``, or for n_max=null no limit (``UNBOUNDED_N``) where the patterns
    are drawn block by block (the growth goes on until the success rate crosses the threshold) and
    ``HELD_N_MAX`` where they are held."""
    if cfg.n_max is not None:
        return cfg.n_max
    return UNBOUNDED_N if streams_only(cfg) else HELD_N_MAX


def search_mode(cfg: Any) -> str:
    """``search``, with auto = ladder where n_max=null lets drawn patterns grow without limit (the cells
    near the crossing are the sweep's whole cost there), else grow (the sweeps of the earlier releases)."""
    search = str(getattr(cfg, "search", "grow"))
    if search != "auto":
        return search
    if cfg.n_max is None and streams_only(cfg):  # a ladder's pass runs in one process: sharded passes cross
        return "ladder" if int(getattr(cfg, "shards", 1)) <= 1 else "crossing"
    return "grow"


def resolved(cfg: Any) -> Any:
    """A copy of ``cfg`` with n_max and search as the sweep runs them (``n_limit``, ``search_mode``): what the
    fingerprint records, so a default sweep of patterns held in memory keeps the fingerprint it always had."""
    import copy

    from omegaconf import OmegaConf

    out = (
        OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        if OmegaConf.is_config(cfg)
        else copy.copy(cfg)
    )
    out.n_max, out.search = n_limit(cfg), search_mode(cfg)
    return out


def _grow(n: int, cfg: Any, limit: int) -> int:
    return min(limit, max(n + 1, int(round(n * cfg.growth))))


def clearly_failed(rate: float, cfg: Any) -> bool:
    """The pooled rate has fallen to ``FLOOR`` x threshold or below (0.225 at the default 0.9): the curve has
    come down most of the way, so a larger N would only show it near 0, at the series' highest cost."""
    return rate <= FLOOR * cfg.threshold


def next_n(rates: dict[int, float], cfg: Any, limit: int) -> int | None:
    """The next N to measure given the pooled success rates measured so far; None when the series is done.

    A pure function of ``rates``: replaying it over logged cells revisits exactly the same Ns, so a resumed
    sweep ends with the table of an uninterrupted one. Growth: n_start, then x growth (at least +1), until
    the rate is clearly below threshold (``clearly_failed``: at most a quarter of it), or below it twice in a
    row, or N hits ``limit``. The cell after a clear failure could only measure a rate near 0 again and is
    the series' most expensive one (it stores ``growth`` times more patterns, and a classical or dense
    network that does not converge runs all its update steps): in the README's sweep of three families over
    d = 16..128 such cells took 95 s of 155 s. A rate between, say 0.5 at threshold 0.9, gets one more N:
    it may be a dip of the estimate, and the success curve should be seen falling to ~0. Refinement: ``refine_steps`` bisections (geometric midpoint)
    between the largest passing N and the next tested N above it, replayed step by step.
    """
    threshold = cfg.threshold
    known: dict[int, float] = {}
    n, fails = min(cfg.n_start, limit), 0
    while True:
        if n not in rates:
            return n
        known[n] = rates[n]
        fails = fails + 1 if rates[n] < threshold else 0
        if fails >= 2 or clearly_failed(rates[n], cfg) or n >= limit:
            break
        n = _grow(n, cfg, limit)
    for _ in range(cfg.refine_steps):
        lo = max((m for m, r in known.items() if r >= threshold), default=0)
        above = [m for m in known if m > lo]
        if not above:
            return None  # never failed up to the limit: capacity is censored there
        hi = min(above)
        mid = hi // 2 if lo == 0 else int(round(math.sqrt(lo * hi)))
        mid = min(max(mid, lo + 1), hi - 1)
        if mid <= lo:
            return None  # adjacent integers: the crossing is exact
        if mid not in rates:
            return mid
        known[mid] = rates[mid]
    return None


CROSSING_TOL = 0.10  # the crossing search stops once the bracket [passing N, failing N] is within 10%
OVERSHOOT = 1.25  # aim this far beyond the predicted crossing while growing, so that one cell brackets it


def _predict(points: list[tuple[int, float]], threshold: float) -> float | None:
    """The N where the success rate crosses ``threshold``, predicted from measured (N, rate) points.

    Model: rate(N) = exp(-lam (N - 1)^a), the argmax retrieval of random patterns (a = 1: each of the N - 1 other
    patterns beats the target independently). Two points with 0 < rate < 1 fit a and lam (clamped to
    1/2 <= a <= 2); one such point fits lam with a = 1. None when no point has 0 < rate < 1.
    """
    usable = [(n, r) for n, r in points if 0.0 < r < 1.0 and n > 1]
    if not usable:
        return None
    target = math.log(-math.log(threshold))
    if len(usable) >= 2 and usable[0][0] != usable[-1][0]:
        (n1, r1), (n2, r2) = usable[0], usable[-1]
        x1, x2 = math.log(n1 - 1), math.log(n2 - 1)
        y1, y2 = math.log(-math.log(r1)), math.log(-math.log(r2))
        a = min(max((y2 - y1) / (x2 - x1), 0.5), 2.0)
    else:
        a = 1.0
    n0, r0 = min(usable, key=lambda p: abs(math.log(-math.log(p[1])) - target))
    y0 = math.log(-math.log(r0))
    return 1.0 + math.exp(math.log(n0 - 1) + (target - y0) / a)


def _grown(n: int, rate: float, cfg: Any, limit: int) -> int:
    """The N after a passing N of the crossing and ladder searches: x ``growth`` while every query succeeds,
    else ``OVERSHOOT`` x the crossing predicted from (n, rate), at most x growth (and at least n + 1)."""
    pred = _predict([(n, rate)], cfg.threshold)
    step = n * cfg.growth if pred is None else min(n * cfg.growth, pred * OVERSHOOT)
    return min(limit, max(n + 1, int(round(step))))


def next_n_crossing(rates: dict[int, float], cfg: Any, limit: int) -> int | None:
    """``search=crossing``: the next N when the work should go where the rate crosses ``threshold``.

    A pure function of ``rates`` (a resumed sweep replays it). Growth from ``n_start``: by ``growth`` while every
    query succeeds, else to ``OVERSHOOT`` x the crossing predicted from the rates (``_predict``), at most x growth.
    Once a passing N and a failing N bracket the crossing, up to ``refine_steps`` more cells at the predicted
    crossing, kept inside the bracket's middle (a safeguarded secant on log N), until the bracket is within
    ``CROSSING_TOL``. N never exceeds ``limit``.
    """
    threshold = cfg.threshold
    n = min(cfg.n_start, limit)
    known: dict[int, float] = {}
    while True:  # growth: replay the measured Ns
        if n not in rates:
            return n
        known[n] = rates[n]
        if rates[n] < threshold or n >= limit:
            break
        n = _grown(n, rates[n], cfg, limit)
    for _ in range(cfg.refine_steps):
        lo = max((m for m, r in known.items() if r >= threshold), default=0)
        above = [m for m, r in known.items() if m > lo and r < threshold]
        if not above:
            return None
        hi = min(above)
        if lo == 0:
            mid = hi // 2
        elif hi <= lo * (1.0 + CROSSING_TOL):
            return None
        else:
            pred = _predict([(lo, known[lo]), (hi, known[hi])], threshold)
            guard = (hi / lo) ** 0.2  # stay off the bracket's ends: every cell shrinks it by a fifth (log)
            mid = math.sqrt(lo * hi) if pred is None else min(max(pred, lo * guard), hi / guard)
            mid = int(round(mid))
        mid = min(max(mid, lo + 1), hi - 1)
        if mid <= lo:
            return None
        if mid not in rates:
            return mid
        known[mid] = rates[mid]
    return None


def series_budget(cfg: Any, limit: int) -> int:
    """Upper estimate of a series' cells (growth to the limit + refinement), for the progress bar's total."""
    steps, n = 1, min(cfg.n_start, limit)
    while n < limit:
        n = _grow(n, cfg, limit)
        steps += 1
    return steps + cfg.refine_steps


LADDER_RATIO = 1.05  # successive Ns of a ladder: the crossing is resolved to 5%


def ladder(below: int, top: int) -> list[int]:
    """The Ns one ladder cell measures: ``top`` and the Ns below it in steps of ``LADDER_RATIO``, down to
    (excluding) ``below``; [top] alone for the first cell (below = 0)."""
    points, n = [top], top
    while below > 0:
        n = min(n - 1, int(n / LADDER_RATIO))
        if n <= below:
            break
        points.append(n)
    return points[::-1]


def next_ladder(rates: dict[int, float], cfg: Any, limit: int) -> tuple[int | None, list[int]] | None:
    """``search=ladder``: the next cell as (targets, Ns): one pass over the ``Ns[-1]`` first patterns measures
    the success rate at every N of the ladder (``core.prefix_pass``), for queries whose targets are among the
    first ``targets`` patterns (every N of the cell stores them); (None, [N]) for a cell of one N, measured
    as the crossing search measures it; None when the series is done.

    A pure function of ``rates`` (a resumed sweep replays it). The Ns grow as in ``search=crossing`` (from
    ``n_start`` by ``growth`` while every query succeeds, else to ``OVERSHOOT`` x the predicted crossing). A
    growth step from N' to N is a ladder of the Ns between them, 5% apart, once N' >= ``num_queries`` (each
    query then has a target of its own among the first N'); below, it is one N, as in the crossing search.
    The series ends at the first ladder with an N below ``threshold``: the crossing lies between two Ns 5%
    apart, for one pass over the ladder's largest N instead of a pass per refinement step. A single N below
    threshold hands over to the crossing search's refinement (``next_n_crossing``: the same Ns so far).
    """
    threshold = cfg.threshold
    below, n = 0, min(cfg.n_start, limit)
    while True:
        cell = ladder(below, n) if below >= cfg.num_queries else [n]
        if any(m not in rates for m in cell):
            return (below if len(cell) > 1 else None), cell
        if any(rates[m] < threshold for m in cell) or n >= limit:
            if len(cell) > 1:
                return None
            refine = next_n_crossing(rates, cfg, limit)
            return None if refine is None else (None, [refine])
        below, n = n, _grown(n, rates[n], cfg, limit)
