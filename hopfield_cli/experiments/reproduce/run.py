"""Run the claims of `hopfield reproduce` group by group, resumably, then write the report.

A group is the unit of work and of resumption: one sub-run (a named experiment through its command's entry
point) or one in-process measurement, giving one or more claims. Each finished group goes to the run folder's
cell log (``resume.CellLog``, as capacity-sweep's cells do), so a second run into the same folder, or with
``resume=<folder>``, reuses every finished group and measures only the rest. A group's sub-run writes into
``runs/<experiment>/`` with its own cell log, so even a group killed half-way resumes its finished cells.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.reproduce import (
    application_claims,
    capacity_claims,
    core_claims,
    fixed_point_claims,
    head_claims,
    image_claims,
    train_claims,
    transformer_claims,
)
from hopfield_cli.experiments.reproduce.claims import FAIL, Claim
from hopfield_cli.experiments.reproduce.profiles import FULL_ONLY, PROFILES, SUBRUNS, Profile, subrun_command
from hopfield_cli.experiments.resume import CellLog, fingerprint, work_folder
from hopfield_cli.report.console import cell_progress, say

log = logging.getLogger(__name__)
COMMAND = "reproduce"


class ClaimsFailed(UsageError):
    """One or more claims measured FAIL: exit status 1 (not 2: the input was fine, the theory was not met)."""

    exit_code = 1


@dataclass(frozen=True)
class Group:
    name: str
    claims: tuple[str, ...]
    experiment: str | tuple[str, ...] | None  # the named experiment(s) it runs, if any
    measure: Callable[..., list[Claim]]


def _sub_run(experiment: str, cfg: Any, root: Path) -> tuple[Any, Path]:
    """Run one named experiment through its command's entry point into ``runs/<experiment>/``."""
    folder = root / "runs" / experiment
    folder.mkdir(parents=True, exist_ok=True)
    if SUBRUNS[experiment][0] == "capacity-sweep":
        from hopfield_cli.experiments.capacity_sweep import sweep as capacity_sweep

        return capacity_sweep.run(cfg, folder), folder
    if SUBRUNS[experiment][0] == "train":
        from hopfield_cli.experiments.train import run as train

        return train.run(cfg, folder), folder
    from hopfield_cli.experiments.metastable_scan import scan as metastable_scan

    return metastable_scan.run(cfg, folder), folder


def _command(ctx: dict[str, Any], experiment: str) -> str:
    return subrun_command(ctx["profile"].name, experiment, ctx["seed"], ctx["device"])


def _core(fn: Callable[..., Claim]) -> Callable[..., list[Claim]]:
    return lambda ctx: [fn(ctx["profile"], ctx["seed"], ctx["root"])]


def _capacity(experiment: str, *fns: Callable[..., Claim]) -> Callable[..., list[Claim]]:
    """One capacity sub-run, then each claim measured from its table."""

    def measure(ctx: dict[str, Any]) -> list[Claim]:
        table, folder = _sub_run(experiment, ctx["subs"][experiment], ctx["root"])
        return [fn(table, folder, _command(ctx, experiment), ctx["root"]) for fn in fns]

    return measure


def _fixed_points(ctx: dict[str, Any]) -> list[Claim]:
    cfg = ctx["subs"]["metastable_clusters"]
    per_beta, folder = _sub_run("metastable_clusters", cfg, ctx["root"])
    command = _command(ctx, "metastable_clusters")
    cluster = cfg.num_patterns // max(cfg.clusters, 1)
    root = ctx["root"]
    return [
        fixed_point_claims.fixed_point_global(per_beta, folder, command, root),
        fixed_point_claims.fixed_point_metastable(per_beta, folder, command, root, cluster),
        fixed_point_claims.fixed_point_single(per_beta, folder, command, root),
    ]


def _training(experiments: tuple[str, ...], *fns: Callable[..., Claim]) -> Callable[..., list[Claim]]:
    """Several `hopfield train` sub-runs, then each claim from their per-epoch tables."""

    def measure(ctx: dict[str, Any]) -> list[Claim]:
        tables, folders = {}, {}
        for experiment in experiments:
            tables[experiment], folders[experiment] = _sub_run(
                experiment, ctx["subs"][experiment], ctx["root"]
            )
        commands = {e: _command(ctx, e) for e in experiments}
        return [fn(tables, folders, commands, ctx["root"]) for fn in fns]

    return measure


_LATCH = (*train_claims.LATCH_HOPFIELD, train_claims.LATCH_BASELINE)
_BITS = ("bit_pattern_pooling", "bit_pattern_mean")
_MLM = ("mlm_softmax", "mlm_gaussian")

GROUPS: tuple[Group, ...] = (
    Group("eq3", ("eq3_attention",), None, _core(core_claims.eq3_attention)),
    Group("energy", ("energy_descent",), None, _core(core_claims.energy_descent)),
    Group("theorem5", ("one_step_retrieval",), None, _core(core_claims.one_step_retrieval)),
    Group("theorem3", ("theorem3_values",), None, _core(core_claims.theorem3_values)),
    Group(
        "sphere",
        ("theorem3_vs_measured", "capacity_exponential"),
        "capacity_sphere",
        _capacity(
            "capacity_sphere", capacity_claims.theorem3_vs_measured, capacity_claims.capacity_exponential
        ),
    ),
    Group(
        "classical",
        ("capacity_classical_linear",),
        "capacity_classical",
        _capacity("capacity_classical", capacity_claims.capacity_classical_linear),
    ),
    Group(
        "compare",
        ("modern_above_classical",),
        "capacity_modern_vs_classical",
        _capacity("capacity_modern_vs_classical", capacity_claims.modern_above_classical),
    ),
    Group(
        "frontier",
        ("capacity_frontier",),
        "capacity_frontier",
        _capacity("capacity_frontier", capacity_claims.capacity_frontier),
    ),
    Group(
        "fixed_points",
        ("fixed_point_global", "fixed_point_metastable", "fixed_point_single"),
        "metastable_clusters",
        _fixed_points,
    ),
    Group("heads", ("head_classes",), None, _core(head_claims.head_classes)),
    Group("images", ("blog_images",), None, _core(image_claims.blog_images)),
    Group("latch", ("latch_hopfield_solves",), _LATCH, _training(_LATCH, train_claims.latch_hopfield_solves)),
    Group(
        "bit_pattern",
        ("bit_pattern_pooling_beats_mean",),
        _BITS,
        _training(_BITS, train_claims.bit_pattern_pooling_beats_mean),
    ),
    Group(
        "mil_elephant",
        ("mil_elephant",),
        ("mil_elephant",),
        _training(("mil_elephant",), application_claims.mil_elephant),
    ),
    Group("mil_ucsb", ("mil_ucsb",), ("mil_ucsb",), _training(("mil_ucsb",), application_claims.mil_ucsb)),
    Group(
        "repertoire",
        ("repertoire_low_witness",),
        ("repertoire_wr1",),
        _training(("repertoire_wr1",), application_claims.repertoire_low_witness),
    ),
    Group("bert", ("bert_first_layer_averages",), None, _core(transformer_claims.bert_first_layer_averages)),
    Group("gradient", ("gradient_regimes",), None, _core(transformer_claims.gradient_regimes)),
    Group(
        "mlm",
        ("heads_start_global", "heads_become_metastable", "gaussian_heads_suffice"),
        _MLM,
        _training(
            _MLM,
            transformer_claims.heads_start_global,
            transformer_claims.heads_become_metastable,
            transformer_claims.gaussian_heads_suffice,
        ),
    ),
)


def _named(experiment: str | tuple[str, ...] | None) -> tuple[str, ...]:
    """A group's named experiments as a tuple."""
    return () if experiment is None else (experiment,) if isinstance(experiment, str) else experiment


def selected_groups(claims: list[str] | None) -> list[Group]:
    """The groups holding the claims asked for (all when ``claims`` is null)."""
    return [g for g in GROUPS if claims is None or set(g.claims) & set(claims)]


def profile_groups(profile: str, claims: list[str] | None) -> list[Group]:
    """The groups a run measures: those holding the claims asked for; with no claims named, outside the full
    profile, not those whose sub-runs take tens of minutes (``profiles.FULL_ONLY``)."""
    groups = selected_groups(claims)
    if profile != "full" and not claims:
        groups = [g for g in groups if not set(_named(g.experiment)) & set(FULL_ONLY)]
    return groups


def needed_experiments(claims: list[str] | None) -> list[str]:
    """The named experiments the selected claims run (the app composes their configs)."""
    out: list[str] = []
    for group in selected_groups(claims):
        if group.experiment is not None:
            out.extend([group.experiment] if isinstance(group.experiment, str) else group.experiment)
    return out


def run(cfg: Any, run_dir: Path, subs: dict[str, Any]) -> pd.DataFrame:
    """Measure the selected claims (reusing finished groups), write the report, raise ClaimsFailed on a FAIL."""
    from hopfield_cli.report import claims_report

    started = time.perf_counter()
    profile: Profile = PROFILES[cfg.profile]
    root = work_folder(cfg.resume, run_dir)
    cells = CellLog(
        root,
        fingerprint(cfg, ("profile", "seed"), command=COMMAND, attention=cfg.attention),
        stem="claim_cells",
    )
    groups = profile_groups(cfg.profile, cfg.claims)
    if cfg.attention is not None:
        groups.append(
            Group(
                "attention_file",
                ("head_classes_file",),
                None,
                lambda ctx: [head_claims.file_classes(cfg.attention, profile, root)],
            )
        )
    ctx = {"profile": profile, "seed": cfg.seed, "device": cfg.device, "root": root, "subs": subs}
    rows: list[dict[str, Any]] = []
    reused = 0
    with cell_progress(COMMAND, total=len(groups)) as bar:
        for group in groups:
            key = {"group": group.name}
            bar.begin(group.name)
            done = cells.get(key)
            if done is None:
                t0 = time.perf_counter()
                claims = group.measure(ctx)
                seconds = round(time.perf_counter() - t0, 3)  # the group's time, on each of its claims
                done = [{**c.row(), "seconds": seconds} for c in claims]
                cells.add(key, done)
            else:
                reused += 1
            rows.extend(
                r
                for r in done
                if cfg.claims is None or r["claim"] in cfg.claims or group.name == "attention_file"
            )
            bar.advance()
    table = pd.DataFrame(rows)
    seconds = time.perf_counter() - started
    from hopfield_cli.core.device import resolve_device

    device = str(resolve_device(cfg.device))
    claims_report.write_report(root, table, profile.name, cfg.seed, device, seconds, cfg.html)
    failed = table.loc[table.verdict == FAIL, "claim"].tolist()
    claims_report.print_verdicts(table, seconds, reused, root)
    if failed:
        raise ClaimsFailed(
            "claims", f"{len(failed)} claim(s) FAIL: {', '.join(failed)}; see {root / 'report.md'}"
        )
    say(f"all {len(table)} claims PASS or NOT APPLICABLE; report: {root / 'report.md'}")
    return table
