"""The application tasks of `hopfield train` (Section 5 of Ramsauer et al. 2021): their entry point and footprint.

``task=mil`` runs a cross-validation (``mil.py``), ``task=repertoire`` trains on sub-sampled repertoires and
evaluates them streamed (``repertoire.py``); neither is the single train/eval split of ``loop.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from hopfield_cli.experiments.footprint import Term


def footprint(cfg: Any) -> list[Term]:
    task = cfg.task
    if task.name == "mil":  # the largest shipped set (UCSB: 58 bags x 40 x 708) as float32, padded; small
        return [Term("task", 58 * 40 * 708 * 4 * 3, "bags, padded, and a fold's standardised copies")]
    from hopfield_cli.experiments.train.repertoire_data import MAX_LENGTH

    codes = task.num_repertoires * task.sequences * (MAX_LENGTH + 9)  # int8 codes, int64 length, bool implant
    block = task.block_sequences * MAX_LENGTH * (cfg.embedding + 23) * 4 * 3  # one evaluation block
    step = (
        cfg.batch_size * min(task.train_sequences, task.sequences) * MAX_LENGTH * (cfg.embedding + 23) * 4 * 4
    )
    largest = task.largest_repertoire * (MAX_LENGTH + 9 + 16)
    return [
        Term("task.sequences", codes, f"{task.num_repertoires:,} repertoires x {task.sequences:,} sequences"),
        Term("task.block_sequences", block, "one evaluation block"),
        Term("task.train_sequences", step, "one training step (activations and gradients)"),
        Term("task.largest_repertoire", largest, "the largest repertoire's codes and scores"),
    ]


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    if cfg.task.name == "mil":
        from hopfield_cli.experiments.train import mil

        return mil.run(cfg, run_dir)
    from hopfield_cli.experiments.train import repertoire

    return repertoire.run(cfg, run_dir)
