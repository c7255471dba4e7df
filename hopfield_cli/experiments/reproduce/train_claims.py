"""Claims of the paper's deep-learning half, measured by `hopfield train` runs (Section 3 and 5, Appendix A.5).

- ``latch_hopfield_solves``: every Hopfield variant (self-association, pooling, lookup) keeps the first symbol
  of a long random sequence (eval accuracy 1.0 within the run's few epochs), where an LSTM stays near chance:
  the layers associate any position with any other in one step instead of carrying a state along.
- ``bit_pattern_pooling_beats_mean``: Hopfield pooling retrieves the one signal instance of a bag (eval AUC
  near 1), where mean pooling dilutes it among the other instances.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hopfield_cli.experiments.reproduce.claims import Claim, relative_figure, verdict

LATCH_HOPFIELD = ("latch_hopfield", "latch_pooling", "latch_lookup")
LATCH_BASELINE = "latch_lstm"
SOLVED = 1.0  # eval accuracy every Hopfield variant must reach
CHANCE_BAND = 0.6  # the LSTM's final eval accuracy must stay below this (chance = 0.5)
AUC_MARGIN = 0.1  # Hopfield pooling's final eval AUC must exceed mean pooling's by this much


def _final_eval(table: pd.DataFrame) -> pd.Series:
    rows = table[table["split"] == "eval"].sort_values("epoch")
    return rows.iloc[-1]


def _best_eval_accuracy(table: pd.DataFrame) -> float:
    return float(table.loc[table["split"] == "eval", "accuracy"].max())


def _figure(folders: dict[str, Path], name: str, root: Path) -> str:
    path = folders[name] / "learning_curve.png"
    return relative_figure(path if path.is_file() else None, root)


def latch_hopfield_solves(
    tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
) -> Claim:
    reached = {name: _best_eval_accuracy(tables[name]) for name in LATCH_HOPFIELD}
    lstm = float(_final_eval(tables[LATCH_BASELINE])["accuracy"])
    epochs = int(tables[LATCH_BASELINE]["epoch"].max())
    ok = all(v >= SOLVED for v in reached.values()) and lstm < CHANCE_BAND
    measured = ", ".join(f"{n.removeprefix('latch_')} {v:.3f}" for n, v in reached.items())
    return Claim(
        claim="latch_hopfield_solves",
        title="Hopfield layers solve latch; an LSTM does not",
        statement="Hopfield layers associate every position with every other in one update, so they keep the "
        "first symbol of a long sequence, where a recurrent network must carry it through every step.",
        where="Section 3 (layers Hopfield, HopfieldPooling, HopfieldLayer); hflayers' latch example",
        command="; ".join(commands[n] for n in (*LATCH_HOPFIELD, LATCH_BASELINE)),
        theory=f"each Hopfield variant reaches eval accuracy {SOLVED:g}; the LSTM stays below {CHANCE_BAND}",
        measured=f"best eval accuracy: {measured}; LSTM final {lstm:.3f} (after {epochs} epochs)",
        tolerance=f"none for the Hopfield variants; LSTM within chance band < {CHANCE_BAND}",
        verdict=verdict(ok),
        theory_value=SOLVED,
        measured_value=min(reached.values()),
        figure=_figure(folders, "latch_hopfield", root),
        detail=f"LSTM final eval accuracy {lstm:.4f}",
    )


def bit_pattern_pooling_beats_mean(
    tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
) -> Claim:
    pooling = float(_final_eval(tables["bit_pattern_pooling"])["auc"])
    mean = float(_final_eval(tables["bit_pattern_mean"])["auc"])
    return Claim(
        claim="bit_pattern_pooling_beats_mean",
        title="Hopfield pooling beats mean pooling on bit-pattern MIL",
        statement="A Hopfield pooling layer retrieves the instance that decides a bag's label; mean pooling "
        "dilutes it among the others.",
        where="Section 3 and 5 (multiple-instance learning with HopfieldPooling)",
        command="; ".join(commands[n] for n in ("bit_pattern_pooling", "bit_pattern_mean")),
        theory=f"AUC(pooling) >= AUC(mean) + {AUC_MARGIN}",
        measured=f"final eval AUC: pooling {pooling:.3f}, mean {mean:.3f}",
        tolerance=f"a margin of {AUC_MARGIN} AUC",
        verdict=verdict(pooling >= mean + AUC_MARGIN),
        theory_value=mean + AUC_MARGIN,
        measured_value=pooling,
        figure=_figure(folders, "bit_pattern_pooling", root),
    )
