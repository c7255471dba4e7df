"""``hopfield train task=repertoire``: DeepRC-like immune repertoire classification (Widrich et al. 2020).

A sequence is embedded by a 1-D convolution over its one-hot residues and three position features (start,
middle, end ramps, as DeepRC), the maximum over positions and a SELU (the convolution computed as table
look-ups); a repertoire's sequences are then the stored patterns of ``HopfieldPooling`` with one learned query
(the ``layer=pooling`` settings), and a linear head gives the repertoire's logit. Training sub-samples
``train_sequences`` sequences of each repertoire per step; evaluation streams every sequence in blocks
(``streamed_pooling``), so a repertoire of any size is scored in memory bounded by the block.

Outputs: the AUC of the held-out quarter of the repertoires for the model, the same model trained and judged on
shuffled labels (the control: labels uncorrelated with the classes in both parts, so its AUC is that of a
model with no signal, 0.5 within the held-out sampling error, whatever feature it learned), and the known-motif oracle (sequences within Hamming distance 1 of the motif); the share
of implanted sequences among the k most attended of each positive repertoire (k = its implant count); the
time and peak memory of evaluating one extra positive repertoire of ``largest_repertoire`` sequences.
Each of these is a cell of the run's cell log (a killed run resumes at the first unfinished one).
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.patterns import device_and_dtype
from hopfield_cli.experiments.resume import CellLog, fingerprint, work_folder
from hopfield_cli.experiments.threads import problem_threads
from hopfield_cli.experiments.train.cross_validation import decorrelated_labels
from hopfield_cli.experiments.train.loop import TRAINING_FIELDS
from hopfield_cli.experiments.train.metrics import accuracy, auc
from hopfield_cli.experiments.train.models import _hopfield_kwargs
from hopfield_cli.experiments.train.repertoire_data import (
    AMINO_ACIDS,
    MAX_LENGTH,
    PAD,
    Repertoire,
    draw_repertoire,
    motif_of,
    oracle_count,
    repertoire_seed,
)
from hopfield_cli.experiments.train.streamed_pooling import attention_weights, streamed_pooling
from hopfield_cli.experiments.train.tasks import balanced_labels
from hopfield_cli.nn import HopfieldPooling
from hopfield_cli.report.console import cell_progress, key_value_table, show
from hopfield_cli.report.files import write_json, write_run_info

log = logging.getLogger(__name__)

COMMAND = "train"
STEM = "results"
# the loop's fields and the epochs: a fold (or a repertoire run) is trained for its whole count, so no resume
# may change it
RESULT_FIELDS = (*TRAINING_FIELDS, "epochs")


def position_features(lengths: torch.Tensor) -> torch.Tensor:
    """(n,) -> (n, MAX_LENGTH, 3): DeepRC's ramps over t = i / (L - 1): start max(0, 1 - 2t), middle
    1 - |2t - 1|, end max(0, 2t - 1); 0 beyond the sequence."""
    i = torch.arange(MAX_LENGTH, dtype=torch.float32, device=lengths.device)[None, :]
    t = i / (lengths[:, None].float() - 1).clamp_min(1)
    ramps = torch.stack([(1 - 2 * t).clamp_min(0), 1 - (2 * t - 1).abs(), (2 * t - 1).clamp_min(0)], dim=-1)
    return ramps * (i < lengths[:, None]).float()[..., None]


class SequenceEncoder(nn.Module):
    """Sequences (n, MAX_LENGTH) int codes + lengths -> (n, width): conv1d, max over positions, SELU.

    The convolution over one-hot residues is computed as what it is, a sum of looked-up columns: output
    position p is the bias plus, for each kernel offset k, the weight column of the residue at p + k - kernel // 2
    (``embedding``, zero for PAD and beyond the ends), plus the convolution of the position ramps, which depend
    on the length alone (one small table per call). Equal to ``nn.Conv1d`` over the one-hot input (tested in
    float64) at a fraction of its cost: 20 of the 23 input channels are one-hot. SELU is increasing, so it is
    taken after the maximum over positions (the same value, the same gradient).
    """

    def __init__(self, width: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(len(AMINO_ACIDS) + 3, width, kernel_size, padding=kernel_size // 2)

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        weight, kernel = self.conv.weight, self.conv.kernel_size[0]  # (E, 23, K)
        left, width = kernel // 2, weight.shape[0]
        n, length = codes.shape
        # residues: (K, PAD + 1, E) tables, the PAD row zero
        table = nn.functional.pad(weight[:, :PAD, :].permute(2, 1, 0), (0, 0, 0, 1))
        padded = nn.functional.pad(codes.long(), (left, kernel - 1 - left), value=PAD)
        positions = self._positions()  # (MAX_LENGTH + 1, L, E): by length and position
        lengths = lengths.long()
        with torch.no_grad():  # every position, then the maximum's place: the gradient flows only there
            h = positions[lengths]
            for k in range(kernel):
                h += nn.functional.embedding(padded[:, k : k + length], table[k])
            outside = torch.arange(length, device=codes.device)[None, :] >= lengths[:, None]
            at = h.masked_fill_(outside[..., None], float("-inf")).max(dim=1).indices  # (n, E)
        feature = torch.arange(width, device=codes.device)[None, :]
        flat = positions.flatten()
        value = self.conv.bias + flat[(lengths[:, None] * length + at) * width + feature]
        for k in range(kernel):
            residue = padded.gather(1, at + k)  # (n, E): the residue under offset k of each maximum
            value = value + table[k].flatten()[residue * width + feature]
        return torch.selu(value)

    def _positions(self) -> torch.Tensor:
        """(MAX_LENGTH + 1, MAX_LENGTH, E): the convolution of the position ramps of each length."""
        weight = self.conv.weight[:, PAD:, :]  # (E, 3, K)
        every = torch.arange(MAX_LENGTH + 1, device=weight.device)
        ramps = position_features(every).to(weight.dtype)
        kernel, left = weight.shape[-1], weight.shape[-1] // 2
        x = nn.functional.pad(ramps.transpose(1, 2), (left, kernel - 1 - left))
        return nn.functional.conv1d(x, weight).transpose(1, 2)


class RepertoireModel(nn.Module):
    """Repertoires (B, S, MAX_LENGTH) -> sequence embeddings (B, S, E) -> Hopfield pooling -> logits (B,)."""

    def __init__(self, width: int, kernel_size: int, layer: Any) -> None:
        super().__init__()
        self.encoder = SequenceEncoder(width, kernel_size)
        self.pooling = HopfieldPooling(width, quantity=layer.quantity, **_hopfield_kwargs(layer))
        self.head = nn.Linear(self.pooling.output_size, 1)

    def forward(self, codes: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        b, s = codes.shape[:2]
        h = self.encoder(codes.flatten(0, 1), lengths.flatten()).view(b, s, -1)
        return self.head(self.pooling(h)).squeeze(-1)

    @torch.no_grad()
    def streamed(self, repertoire: Repertoire, block: int, device) -> tuple[float, torch.Tensor]:
        """The logit of one whole repertoire, blocks of ``block`` sequences at a time, and the association
        of every sequence (mean over heads and queries, (S,))."""
        self.eval()

        def blocks():
            for start in range(0, len(repertoire.lengths), block):
                codes = repertoire.codes[start : start + block].to(device)
                yield self.encoder(codes, repertoire.lengths[start : start + block].to(device))[None]

        pooled, scores = streamed_pooling(self.pooling, blocks())
        weights = attention_weights(scores)[0].mean(dim=(0, 1))  # (S,)
        return float(self.head(pooled).squeeze()), weights.cpu()


class Cohort:
    """The repertoires of a run: drawn once, held as int8 codes (R, S, MAX_LENGTH)."""

    def __init__(self, task, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.motif = motif_of(task, seed)
        self.labels = balanced_labels(task.num_repertoires, generator)
        drawn = [
            draw_repertoire(task, self.motif, bool(y), task.sequences, repertoire_seed(seed, r))
            for r, y in enumerate(self.labels.tolist())
        ]
        self.codes = torch.stack([d.codes for d in drawn])
        self.lengths = torch.stack([d.lengths for d in drawn])
        self.implanted = torch.stack([d.implanted for d in drawn])
        order = torch.randperm(task.num_repertoires, generator=generator)
        held_out = max(2, task.num_repertoires // 4)
        evaluation = order[:held_out]
        if int(self.labels[evaluation].sum()) in (0, held_out):  # both classes in each split
            evaluation = torch.cat(
                [order[: held_out - 1], (self.labels != self.labels[order[0]]).nonzero()[:1, 0]]
            )
        mask = torch.zeros(task.num_repertoires, dtype=torch.bool)
        mask[evaluation] = True
        self.eval_index, self.train_index = mask.nonzero().flatten(), (~mask).nonzero().flatten()

    def repertoire(self, r: int) -> Repertoire:
        return Repertoire(self.codes[r], self.lengths[r], self.implanted[r])


def train_model(cfg, cohort: Cohort, labels: torch.Tensor, seed: int, device, dtype, bar) -> RepertoireModel:
    """``cfg.epochs`` passes over the training repertoires, ``train_sequences`` sampled per repertoire a step."""
    task = cfg.task
    torch.manual_seed(seed)
    model = RepertoireModel(cfg.embedding, task.kernel_size, cfg.layer).to(device=device, dtype=dtype)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    take = min(task.train_sequences, task.sequences)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(cfg.epochs):
        model.train()
        order = cohort.train_index[torch.randperm(len(cohort.train_index), generator=generator)]
        total = 0.0
        for start in range(0, len(order), cfg.batch_size):
            batch = order[start : start + cfg.batch_size]
            picks = torch.stack([torch.randperm(task.sequences, generator=generator)[:take] for _ in batch])
            codes = cohort.codes[batch[:, None], picks].to(device)
            lengths = cohort.lengths[batch[:, None], picks].to(device)
            loss = loss_fn(model(codes, lengths), labels[batch].to(device=device, dtype=dtype))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        bar.note(f"epoch {epoch + 1}/{cfg.epochs}: train loss {total / len(order):.4f}")
    return model


def evaluate(
    model: RepertoireModel, cohort: Cohort, block: int, device, labels: torch.Tensor | None = None
) -> dict[str, float]:
    """AUC over the held-out repertoires (every sequence streamed) against ``labels`` (default: their true
    labels), and the implanted share of the top k of each truly positive one."""
    logits, shares = [], []
    for r in cohort.eval_index.tolist():
        repertoire = cohort.repertoire(r)
        logit, weights = model.streamed(repertoire, block, device)
        logits.append(logit)
        if bool(cohort.labels[r]):
            shares.append(top_share(weights, repertoire.implanted))
    scores = torch.tensor(logits, dtype=torch.float64)
    labels = cohort.labels[cohort.eval_index] if labels is None else labels
    return {
        "auc": auc(scores, labels),
        "accuracy": accuracy(scores, labels.double()),
        "top_attended_implanted": sum(shares) / len(shares),
    }


def top_share(weights: torch.Tensor, implanted: torch.Tensor) -> float:
    """Share of implanted sequences among the k most attended, k = the number implanted."""
    k = int(implanted.sum())
    return float(implanted[torch.topk(weights, k).indices].float().mean())


class PeakMemory:
    """Peak resident memory above the level at start, sampled every 5 ms from /proc/self/statm (Linux).

    The heap's free memory is first handed back to the system (glibc's ``malloc_trim``, where there is one):
    otherwise the blocks training freed are reused unseen and the evaluation reads as using nothing."""

    def __enter__(self) -> PeakMemory:
        _trim_heap()
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self.page
        except OSError:
            return 0

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def above_start(self) -> int:
        return self.peak - self.start


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the reading may then be low
        pass


def largest(cfg, model: RepertoireModel, cohort: Cohort, device) -> dict[str, Any]:
    """Draw one positive repertoire of ``largest_repertoire`` sequences, evaluate it streamed: time, memory."""
    task = cfg.task
    repertoire = draw_repertoire(
        task, cohort.motif, True, task.largest_repertoire, repertoire_seed(cfg.seed, -1)
    )
    with PeakMemory() as memory:
        started = time.perf_counter()
        logit, weights = model.streamed(repertoire, task.block_sequences, device)
        seconds = time.perf_counter() - started
    return {
        "sequences": task.largest_repertoire,
        "logit": logit,
        "top_attended_implanted": top_share(weights, repertoire.implanted),
        "eval_seconds": seconds,
        "eval_peak_mib": memory.above_start / 2**20,
        "input_mib": (repertoire.codes.numel() + 8 * repertoire.lengths.numel()) / 2**20,
    }


def oracle(cohort: Cohort) -> dict[str, float]:
    counts = torch.tensor(
        [
            float(oracle_count(cohort.codes[r], cohort.lengths[r], cohort.motif))
            for r in cohort.eval_index.tolist()
        ]
    )
    labels = cohort.labels[cohort.eval_index]
    return {"auc": auc(counts, labels), "accuracy": float("nan"), "top_attended_implanted": float("nan")}


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    started = time.perf_counter()
    if cfg.layer.name != "pooling":
        raise UsageError(
            "layer", f"task=repertoire pools the sequences with layer=pooling, got layer={cfg.layer.name}"
        )
    device, dtype = device_and_dtype(cfg)
    task = cfg.task
    work_dir = work_folder(cfg.resume, run_dir)
    cells = CellLog(work_dir, fingerprint(cfg, RESULT_FIELDS, command=COMMAND), stem=STEM)
    cohort = Cohort(task, cfg.seed)
    methods = ["hopfield", "oracle", *(["shuffle"] if task.shuffle else [])]
    labels = {"task": "repertoire", "witness_rate": task.witness_rate, "sequences": task.sequences}
    model = None
    # one CPU thread: on the shared 2-core machine a block of 8,192 sequences took 223 ms with one, 985 with two
    with (
        problem_threads(device, 0),
        cell_progress(f"repertoire witness rate {task.witness_rate:g}", total=len(methods) + 1) as bar,
    ):
        for method in methods:
            bar.begin(method)
            if cells.get({"method": method}) is None:
                t0 = time.perf_counter()
                if method == "oracle":
                    scored = oracle(cohort)
                else:
                    y, held_out = cohort.labels, None
                    if method == "shuffle":  # trained and judged on labels uncorrelated with the classes
                        y = y.clone()
                        y[cohort.train_index] = decorrelated_labels(y[cohort.train_index], cfg.seed + 1)
                        held_out = decorrelated_labels(y[cohort.eval_index], cfg.seed + 2)
                    trained = train_model(
                        cfg, cohort, y, cfg.seed + (method == "shuffle"), device, dtype, bar
                    )
                    scored = evaluate(trained, cohort, task.block_sequences, device, held_out)
                    if method == "hopfield":
                        model = trained
                        _save(work_dir, model, cfg)
                row = {
                    **labels,
                    "method": method,
                    **scored,
                    "repertoires_eval": len(cohort.eval_index),
                    "seconds": time.perf_counter() - t0,
                }
                cells.add({"method": method}, [row])
            bar.advance()
        bar.begin("largest repertoire")
        if task.largest_repertoire and cells.get({"method": "largest"}) is None:
            if model is None:
                model = _load(work_dir, cfg, device, dtype)
            measured = largest(cfg, model, cohort, device)
            cells.add({"method": "largest"}, [{**labels, "method": "largest", **measured}])
        bar.advance()
    table = cells.frame()
    summary = _summary(table, task, time.perf_counter() - started, device)
    write_json(work_dir / "summary.json", summary)
    if cfg.plots:  # one witness rate here; a sweep's merged results.parquet gives the curve (same function)
        from hopfield_cli.report.application_figures import save_auc_vs_witness_rate

        scored = table[table["method"] != "largest"]
        save_auc_vs_witness_rate(work_dir / "auc_vs_witness_rate.png", scored, "repertoires: held-out AUC")
    write_run_info(
        work_dir, COMMAND, cfg.seed, device, seconds=summary["seconds"], hydra_run_dir=str(run_dir)
    )
    show(
        key_value_table(
            f"repertoire, witness rate {task.witness_rate:g} ({task.sequences:,} sequences)",
            [(k, v) for k, v in summary.items() if not isinstance(v, dict)],
        )
    )
    return table


def _value(table: pd.DataFrame, method: str, column: str) -> float | None:
    rows = table[table["method"] == method]
    return None if rows.empty or column not in rows else float(rows[column].iloc[0])


def _summary(table: pd.DataFrame, task, seconds: float, device) -> dict[str, Any]:
    return {
        "auc": _value(table, "hopfield", "auc"),  # first: a sweep's summary figure plots it per witness rate
        "oracle_auc": _value(table, "oracle", "auc"),
        "shuffle_auc": _value(table, "shuffle", "auc"),
        "top_attended_implanted": _value(table, "hopfield", "top_attended_implanted"),
        "witness_rate": task.witness_rate,
        "sequences": task.sequences,
        "repertoires": task.num_repertoires,
        "largest_sequences": _value(table, "largest", "sequences"),
        "largest_eval_seconds": _value(table, "largest", "eval_seconds"),
        "largest_eval_peak_mib": _value(table, "largest", "eval_peak_mib"),
        "largest_top_attended_implanted": _value(table, "largest", "top_attended_implanted"),
        "seconds": seconds,
        "device": str(device),
    }


def _save(folder: Path, model: RepertoireModel, cfg) -> None:
    from hopfield_cli.experiments.train import checkpoint

    checkpoint.save_model(folder / "model.safetensors", model, {"task": "repertoire", "seed": f"{cfg.seed}"})


def _load(folder: Path, cfg, device, dtype) -> RepertoireModel:
    from safetensors.torch import load_file

    model = RepertoireModel(cfg.embedding, cfg.task.kernel_size, cfg.layer).to(device=device, dtype=dtype)
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    return model
