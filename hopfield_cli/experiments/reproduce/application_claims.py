"""Claims of the paper's applications (Section 5), measured by `hopfield train task=mil` and `task=repertoire`.

- ``mil_elephant``, ``mil_ucsb``: Hopfield pooling's AUC under the paper's protocol. profile=full runs the
  protocol (5 x 10 folds, inner search) and compares the mean of the repeat means with Table 1 within
  ``TOLERANCE``; profile=quick (one repeat of 5 folds, one configuration, fewer epochs) only asks for the
  ``QUICK_FLOOR``. Both ask the label-shuffle control on the same folds to stay within ``SHUFFLE_BAND`` of 0.5.
- ``repertoire_low_witness``: DeepRC's observation, with Hopfield pooling over every sequence of a repertoire:
  AUC near 1 at a 1% witness rate (profile=full; profile=quick checks the machinery at 5% on small
  repertoires), with the known-motif oracle as the ceiling and a label shuffle no better than chance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from hopfield_cli.experiments.reproduce.claims import Claim, relative_figure, verdict

TABLE1 = {"elephant": (0.949, 0.003), "ucsb": (0.895, 0.008)}  # Hopfield pooling, AUC, mean +- std
TOLERANCE = 0.03  # full profile: |ours - Table 1| <= this (3 AUC points: ours has its own search and network)
QUICK_FLOOR = {"elephant": 0.85, "ucsb": 0.70}  # quick profile: one repeat of 5 folds
SHUFFLE_BAND = {"quick": 0.25, "full": 0.10}  # |shuffle AUC - 0.5| within this (5 quick folds are noisy)
REPERTOIRE_AUC = 0.95  # Hopfield pooling's held-out AUC must reach this
SHUFFLE_SIGMAS = 3  # the shuffle's AUC within 3 standard deviations of 0.5 under "no signal" (Mann-Whitney)


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


def _mil(dataset: str):
    def measure(
        tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
    ):
        name = f"mil_{dataset}"
        summary = _summary(folders[name])
        profile = summary["profile"]
        ours, std = summary["auc_mean"], summary["auc_std_repeats"]
        shuffle = summary.get("shuffle_auc_mean")
        paper, paper_std = TABLE1[dataset]
        shuffle_ok = shuffle is not None and abs(shuffle - 0.5) <= SHUFFLE_BAND[profile]
        if profile == "full":
            ok = math.isfinite(ours) and abs(ours - paper) <= TOLERANCE and shuffle_ok
            theory = f"Table 1: {paper:.3f} +- {paper_std:.3f}; ours within {TOLERANCE}"
            target = paper
        else:
            ok = math.isfinite(ours) and ours >= QUICK_FLOOR[dataset] and shuffle_ok
            theory = f"quick profile: AUC >= {QUICK_FLOOR[dataset]} (Table 1: {paper:.3f} +- {paper_std:.3f})"
            target = QUICK_FLOOR[dataset]
        methods = {m["method"]: m["auc_mean"] for m in summary["methods"]}
        spread = "" if std is None or not math.isfinite(std) else f" +- {std:.3f}"
        others = ", ".join(f"{m} {v:.3f}" for m, v in methods.items() if m not in ("hopfield", "shuffle"))
        others = others or "none run"
        figure = folders[name] / "auc_per_fold.png"
        return Claim(
            claim=name,
            title=f"Hopfield pooling on {dataset} (Table 1)",
            statement="Hopfield pooling reaches the multiple-instance benchmarks' state of the art: AUC "
            f"{paper * 100:.1f} +- {paper_std * 100:.1f} on {dataset} over 5 repeats of stratified 10-fold CV.",
            where="Section 5, Table 1 (multiple instance learning)",
            command=commands[name],
            theory=theory,
            measured=f"AUC {ours:.3f}{spread} ({summary['repeats']} x {summary['folds']} folds); shuffle "
            f"{shuffle:.3f}; baselines: {others}",
            tolerance=f"full: {TOLERANCE} AUC of Table 1; quick: the floor; shuffle within "
            f"{SHUFFLE_BAND[profile]} of 0.5",
            verdict=verdict(ok),
            theory_value=target,
            measured_value=ours,
            figure=relative_figure(figure if figure.is_file() else None, root),
            detail=f"profile {profile}; {summary['bags']} bags; {summary['seconds']:.0f} s",
        )

    return measure


mil_elephant = _mil("elephant")
mil_ucsb = _mil("ucsb")


def null_auc_std(positives: int, negatives: int) -> float:
    """Standard deviation of the AUC of scores unrelated to the labels (Mann-Whitney U / (n1 n2))."""
    return math.sqrt((positives + negatives + 1) / (12 * positives * negatives))


def repertoire_low_witness(
    tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
) -> Claim:
    summary = _summary(folders["repertoire_wr1"])
    ours, oracle, shuffle = summary["auc"], summary["oracle_auc"], summary["shuffle_auc"]
    rate = summary["witness_rate"]
    held_out = max(2, int(summary["repertoires"]) // 4)
    band = SHUFFLE_SIGMAS * null_auc_std(held_out // 2, held_out - held_out // 2)
    # The control is trained and judged on labels uncorrelated with the classes (train/repertoire): whatever
    # feature it learns, with whatever sign, its held-out AUC is that of a score with no signal. (Judged on the
    # true labels it was not: a model trained on such labels still finds the motif, with an arbitrary sign,
    # and measured 0.014-0.93.)
    shuffle_ok = shuffle is None or abs(shuffle - 0.5) <= band
    ok = ours >= REPERTOIRE_AUC and ours <= oracle + 1e-12 + 0.05 and shuffle_ok
    largest = summary.get("largest_eval_seconds")
    memory = "" if largest is None else (
        f"; {summary['largest_sequences']:,.0f}-sequence repertoire evaluated in {largest:.1f} s, "
        f"peak {summary['largest_eval_peak_mib']:.0f} MiB above the model"
    )  # fmt: skip
    shown = "n/a" if shuffle is None else f"{shuffle:.3f}"
    return Claim(
        claim="repertoire_low_witness",
        title="Hopfield pooling finds a rare motif in immune repertoires",
        statement="Attention (Hopfield pooling) over all sequences of a repertoire classifies it even when "
        "only a small share of its sequences carries the disease motif (DeepRC, simulated data).",
        where="Section 5 (immune repertoire classification, DeepRC: Widrich et al. 2020)",
        command=commands["repertoire_wr1"],
        theory=f"AUC >= {REPERTOIRE_AUC} at witness rate {rate:g}; the oracle (Hamming <= 1 count) the ceiling; "
        f"shuffle within {band:.2f} of 0.5 ({SHUFFLE_SIGMAS} sd of the AUC of {held_out} held-out "
        "repertoires under no signal)",
        measured=f"AUC {ours:.3f}, oracle {oracle:.3f}, shuffle {shown}; implanted share of the most attended "
        f"{summary['top_attended_implanted']:.2f}{memory}",
        tolerance=f"AUC >= {REPERTOIRE_AUC}; the oracle + 0.05 (held-out noise)",
        verdict=verdict(ok),
        theory_value=REPERTOIRE_AUC,
        measured_value=ours,
        detail=f"{summary['repertoires']} repertoires x {summary['sequences']:,} sequences; {summary['seconds']:.0f} s",
    )
