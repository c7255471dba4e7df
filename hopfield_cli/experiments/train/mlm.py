"""`hopfield train task=mlm`: a small BERT learns masked characters; its heads are classified as it learns.

The model is ``nn.bert.MaskedLM`` (post-LN BERT, sinusoidal positions, BERT's initialisation, no dropout).
Training is step-based (AdamW or SGD, linear warm-up over the first ``WARMUP`` steps, then constant). At step 0
and every ``task.eval_every`` steps, on the fixed validation batch: the masked-character loss, and per head
k-bar (median k90 over the batch's queries), its class I-IV with N = ``task.seq_len`` (Section 4) and the mean
softmax-Jacobian norm ||diag(p) - p p^T||_F (``core.softmax_jacobian``), the paper's Figs. A.4 and A.5.

Each evaluation is a cell of the run's ``CellLog`` (one row per layer and head, the losses on every row),
written once that step's checkpoint (``checkpoint.save``, named by the step) is on disk: a killed run resumes
from its last evaluation and gives the same table, since every batch is a function of (seed, step).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from hopfield_cli.core.fixed_points import head_class, k90
from hopfield_cli.core.softmax_jacobian import softmax_jacobian_norm
from hopfield_cli.experiments.footprint import ROW_BYTES, Term
from hopfield_cli.experiments.train import checkpoint
from hopfield_cli.experiments.train.mlm_data import IGNORE, Corpus, make_corpus, train_batch, valid_batch
from hopfield_cli.nn.bert import BertShape, MaskedLM, attention_parameters

log = logging.getLogger(__name__)

COMMAND = "train"
STEM = "results"
WARMUP = 100  # steps of linear learning-rate warm-up (fixed, so a longer run continues a shorter one exactly)
RESULT_FIELDS = ("lr", "weight_decay", "optimizer", "seed", "dtype")


def shape_of(task: Any, vocab_size: int, gaussian: bool = True) -> BertShape:
    return BertShape(
        vocab_size=vocab_size,
        hidden_size=task.width,
        num_layers=task.num_layers,
        num_heads=task.num_heads,
        intermediate_size=4 * task.width,
        max_positions=task.seq_len,
        positions="sinusoidal",
        gaussian_layers=tuple(task.gaussian_layers) if gaussian else (),
    )


def footprint(cfg: Any) -> list[Term]:
    """Attention probabilities of a training batch (kept for the backward pass), and the table rows."""
    t = cfg.task
    probs = t.batch_size * t.num_layers * t.num_heads * t.seq_len**2 * 4 * 3
    evals = t.steps // t.eval_every + 2
    return [
        Term(
            "task.batch_size",
            probs,
            f"attention of one batch: {t.batch_size} x {t.num_layers} x {t.num_heads} x "
            f"{t.seq_len}^2, with its gradients",
        ),
        Term("task.steps", evals * t.num_layers * t.num_heads * ROW_BYTES, f"{evals} evaluations"),
    ]


def _loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=IGNORE
    )


@torch.no_grad()
def measure_heads(model: MaskedLM, inputs: torch.Tensor, labels: torch.Tensor) -> tuple[float, list[dict]]:
    """Validation loss and, per (layer, head), k-bar, class and mean softmax-Jacobian norm."""
    model.eval()
    logits, probs = model(inputs)
    loss = float(_loss(logits.double(), labels))
    n_keys = inputs.shape[1]
    rows = []
    for layer, p in enumerate(probs):  # (B, H, T, T)
        for head in range(p.shape[1]):
            q = p[:, head].reshape(-1, n_keys)
            k = k90(q).double()
            k_median = float(k.quantile(0.5))  # the mean of the two middle values, as numpy's median
            rows.append(
                {
                    "layer": layer,
                    "head": head,
                    "k_median": k_median,
                    "k_median_fraction": k_median / n_keys,
                    "head_class": head_class(k_median, n_keys),
                    "jacobian_norm": float(softmax_jacobian_norm(q).mean()),
                }
            )
    model.train()
    return loss, rows


def _lr_factor(step: int) -> float:
    return min(1.0, step / WARMUP)


def run_steps(
    cfg: Any, model: MaskedLM, optimizer, corpus: Corpus, cells, work_dir: Path, device, bar
) -> None:
    """Train the steps not yet in ``cells`` (after the last evaluation's checkpoint), evaluating as it goes."""
    task = cfg.task
    inputs, labels = valid_batch(corpus, task.eval_windows, task.seq_len, task.mask_prob, cfg.seed)
    inputs, labels = inputs.to(device), labels.to(device)
    done = sorted(set(cells.frame()["step"].astype(int))) if len(cells) else []
    step = done[-1] if done else 0
    if done:
        checkpoint.load(work_dir, step, model, optimizer)
        bar.advance(len(done))
    base_lr = [g["lr"] for g in optimizer.param_groups]
    schedule = sorted({0, *range(task.eval_every, task.steps, task.eval_every), task.steps})
    losses: list[float] = []
    started = time.perf_counter()
    for target in (s for s in schedule if s > step or (s == 0 and not done)):
        bar.begin(f"step {target}/{task.steps}")
        while step < target:
            step += 1
            for group, lr in zip(optimizer.param_groups, base_lr, strict=True):
                group["lr"] = lr * _lr_factor(step)
            x, y = train_batch(corpus, task.batch_size, task.seq_len, task.mask_prob, cfg.seed, step)
            logits, _ = model(x.to(device), need_probs=False)
            loss = _loss(logits, y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        valid_loss, heads = measure_heads(model, inputs, labels)
        train_loss = sum(losses) / len(losses) if losses else math.nan
        seconds = time.perf_counter() - started
        rows = [
            {"step": step, **h, "valid_loss": valid_loss, "train_loss": train_loss, "seconds": seconds}
            for h in heads
        ]
        checkpoint.save(work_dir, step, model, optimizer)
        cells.add({"step": step}, rows)
        checkpoint.prune(work_dir, keep=step)
        global_heads = sum(h["head_class"] == "I" for h in heads)
        bar.note(f"step {step}: valid loss {valid_loss:.4f}, class I heads {global_heads}/{len(heads)}")
        bar.advance()
        losses, started = [], time.perf_counter()


def class_table(heads: pd.DataFrame) -> pd.DataFrame:
    """Heads of each class per evaluation step (rows: steps; columns: I-IV and the validation loss)."""
    counts = heads.groupby("step")["head_class"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(columns=["I", "II", "III", "IV"], fill_value=0)
    counts["valid_loss"] = heads.groupby("step")["valid_loss"].first()
    return counts


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Train the masked-language model of ``cfg.task``; returns one row per (evaluation step, layer, head)."""
    from hopfield_cli.data.text_corpus import load_text
    from hopfield_cli.experiments.patterns import device_and_dtype
    from hopfield_cli.experiments.resume import CellLog, fingerprint, work_folder
    from hopfield_cli.experiments.train.loop import make_optimizer
    from hopfield_cli.report.console import cell_progress, key_value_table, show
    from hopfield_cli.report.files import write_json, write_run_info

    started = time.perf_counter()
    task = cfg.task
    device, dtype = device_and_dtype(cfg)
    text, text_sha = load_text(str(task.text), "task.text")
    corpus = make_corpus(text, task.seq_len)
    torch.manual_seed(cfg.seed)
    model = MaskedLM(shape_of(task, corpus.vocab_size)).to(device=device, dtype=dtype)
    counts = attention_parameters(model)
    twin = attention_parameters(MaskedLM(shape_of(task, corpus.vocab_size, gaussian=False)))
    optimizer = make_optimizer(cfg.optimizer, model, cfg.lr, cfg.weight_decay)
    work_dir = work_folder(cfg.resume, run_dir)
    described = {k: v for k, v in dataclasses.asdict(task).items() if k != "steps"}
    cells = CellLog(
        work_dir,
        fingerprint(cfg, RESULT_FIELDS, command=COMMAND, task=described, text_sha256=text_sha),
        stem=STEM,
    )
    evaluations = len({0, *range(task.eval_every, task.steps, task.eval_every), task.steps})
    with cell_progress(f"train mlm ({task.num_layers} x {task.num_heads} heads)", total=evaluations) as bar:
        run_steps(cfg, model, optimizer, corpus, cells, work_dir, device, bar)
    table = cells.frame().sort_values(["step", "layer", "head"], kind="stable").reset_index(drop=True)
    table = table[table["step"] <= task.steps].reset_index(drop=True)
    seconds = time.perf_counter() - started
    by_step = class_table(table)
    first, last = by_step.iloc[0], by_step.iloc[-1]
    heads = task.num_layers * task.num_heads
    summary = {
        "task": "mlm",
        "steps": int(by_step.index[-1]),
        "gaussian_layers": list(task.gaussian_layers),
        "final_valid_loss": float(last["valid_loss"]),
        "first_valid_loss": float(first["valid_loss"]),
        "class_I_fraction_first": float(first["I"]) / heads,
        "class_I_fraction_last": float(last["I"]) / heads,
        "classes_per_step": {
            int(s): {c: int(r[c]) for c in ("I", "II", "III", "IV")} for s, r in by_step.iterrows()
        },
        **counts,
        "softmax_twin_parameters": twin["parameters"],
        "softmax_twin_score_parameters": twin["score_parameters"],
        "vocab_size": corpus.vocab_size,
        "text_sha256": text_sha,
        "seconds": seconds,
    }
    write_json(work_dir / "summary.json", {**summary, "device": str(device), "dtype": cfg.dtype})
    if cfg.save_model:
        checkpoint.save_model(work_dir / "model.safetensors", model, {"task": "mlm", "seed": f"{cfg.seed}"})
    if cfg.plots:
        from hopfield_cli.report import head_figures

        title = "mlm" + (f", Gaussian layers {list(task.gaussian_layers)}" if task.gaussian_layers else "")
        head_figures.save_classes_over_steps(work_dir / "head_classes_over_steps.png", table, title)
        head_figures.save_norms_over_steps(
            work_dir / "jacobian_norms_over_steps.png", table, title, task.seq_len
        )
    write_run_info(work_dir, COMMAND, cfg.seed, device, seconds=seconds, hydra_run_dir=str(run_dir))
    show(
        key_value_table(
            f"train mlm: {summary['steps']} steps, {task.num_layers} x {task.num_heads} heads, N = {task.seq_len}",
            [
                (
                    "validation loss, first -> last",
                    f"{summary['first_valid_loss']:.4f} -> {summary['final_valid_loss']:.4f}",
                ),
                ("class I heads, first -> last", f"{int(first['I'])}/{heads} -> {int(last['I'])}/{heads}"),
                (
                    "heads I/II/III/IV at the end",
                    "/".join(str(int(last[c])) for c in ("I", "II", "III", "IV")),
                ),
                ("trainable parameters", counts["parameters"]),
                ("score parameters (query+key or mu+sigma)", counts["score_parameters"]),
                (
                    "softmax twin: parameters / score parameters",
                    f"{twin['parameters']} / {twin['score_parameters']}",
                ),
                ("device", str(device)),
                ("seconds", seconds),
            ],
        )
    )
    return table
