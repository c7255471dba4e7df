"""`hopfield attention-heads pretrained=minilm|PATH`: the head classes of a pre-trained BERT on pinned text (Fig. A.3).

The text (``data.text_corpus``) is cut into ``windows`` windows of ``seq_len`` tokens ([CLS] ... [SEP]), each
run through the BERT forward written here (``nn.bert``) one window at a time. For every layer, head and
query: k90 (the smallest number of largest attention probabilities holding 90% of the row,
``core.fixed_points.k90``) and the softmax-Jacobian norm ||diag(p) - p p^T||_F
(``core.softmax_jacobian``). Per head: the k90 distribution, its median k-bar, the class I-IV with the
thresholds scaled with N = seq_len (``core.fixed_points.head_class``, as the paper's appendix scales them with
the sequence length), and the mean norm.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from hopfield_cli.core.device import resolve_device
from hopfield_cli.core.fixed_points import HEAD_CLASSES, k90
from hopfield_cli.core.softmax_jacobian import softmax_jacobian_norm
from hopfield_cli.data.attention_file import rows_per_block
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.footprint import ROW_BYTES, Term

JACOBIAN = "jacobian_norm"


@torch.no_grad()
def measure(
    encoder: torch.nn.Module, ids: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """k90, softmax-Jacobian norm and largest weight per (layer, head, query): each (L, H, W * T), on the CPU.

    One window at a time, so only one window's (L, H, T, T) probabilities are held."""
    encoder = encoder.to(device)
    ks, norms, tops = [], [], []
    for window in ids:
        _, probs = encoder(window[None].to(device))
        p = torch.stack([layer[0] for layer in probs])  # (L, H, T, T)
        rows = p.reshape(-1, p.shape[-1])
        step = rows_per_block(rows.shape[1]) // 4  # the sort and the float64 norm: a few copies of a block
        ks.append(
            torch.cat([k90(rows[s : s + step]) for s in range(0, len(rows), step)]).reshape(p.shape[:3]).cpu()
        )
        norm = torch.cat([softmax_jacobian_norm(rows[s : s + step]) for s in range(0, len(rows), step)])
        norms.append(norm.reshape(p.shape[:3]).cpu())
        tops.append(p.amax(dim=-1).cpu())
    return torch.cat(ks, dim=-1), torch.cat(norms, dim=-1), torch.cat(tops, dim=-1)


def add_norms(table: pd.DataFrame, norms: torch.Tensor) -> pd.DataFrame:
    """The head table with each head's mean (and median) softmax-Jacobian norm over its queries."""
    flat = norms.reshape(-1, norms.shape[-1])
    table[JACOBIAN] = flat.mean(dim=-1).numpy()
    table[f"{JACOBIAN}_median"] = flat.median(dim=-1).values.numpy()
    return table


def footprint(cfg: Any) -> list[Term]:
    """A BERT of MiniLM's size: weights (~90 MB), one window's probabilities and scores in every layer, the
    per-query tables."""
    if cfg.pretrained is None:
        return []
    heads, layers = 12, 12  # bert-base's; MiniLM has 6 layers: an upper bound for the shipped models
    window = layers * heads * cfg.seq_len * cfg.seq_len * 4
    queries = layers * heads * cfg.windows * cfg.seq_len
    return [
        Term("pretrained", 450 * 2**20, "weights of a BERT-base-sized model"),
        Term("seq_len", 3 * window, f"one window's attention: {layers} x {heads} x {cfg.seq_len}^2 x 3"),
        Term("windows", queries * ROW_BYTES, f"{queries:,} query rows"),
    ]


def run(cfg: Any, run_dir: Path) -> pd.DataFrame:
    """Classify every head of ``cfg.pretrained`` on ``cfg.windows`` windows of ``cfg.text``; write tables, figures
    and a Rich summary (the same files as the attention-file mode, plus the norms)."""
    from hopfield_cli.data import pretrained
    from hopfield_cli.data.text_corpus import load_text
    from hopfield_cli.experiments.attention_heads import from_file as heads
    from hopfield_cli.report.files import write_json, write_run_info, write_table

    started = time.perf_counter()
    folder, hashes = pretrained.model_folder(cfg.pretrained)
    text, text_sha = load_text(cfg.text)
    tokenizer = pretrained.tokenizer_of(folder)
    encoder, shape = pretrained.load_encoder(folder)
    if cfg.seq_len > shape.max_positions:
        raise UsageError("seq_len", f"must be <= {shape.max_positions} for this model, got {cfg.seq_len}")
    ids = pretrained.token_windows(tokenizer, text, cfg.windows, cfg.seq_len)
    device = resolve_device(cfg.device)
    torch.manual_seed(cfg.seed)
    k, norms, tops = measure(encoder, ids, device)
    n_keys = cfg.seq_len
    table = add_norms(heads.head_table(k, n_keys), norms)
    write_table(table, run_dir, heads.HEAD_STEM)
    queries = heads.query_table(k, tops)
    queries[JACOBIAN] = norms.reshape(-1).numpy()
    write_table(queries, run_dir, heads.QUERY_STEM)
    counts = heads.class_counts(table)
    source = {
        "model": cfg.pretrained,
        "model_folder": str(folder),
        "model_sha256": hashes,
        "text": cfg.text,
        "text_sha256": text_sha,
        "windows": cfg.windows,
        "seq_len": n_keys,
    }
    write_json(
        run_dir / "summary.json",
        {
            **source,
            "shape": [shape.num_layers, shape.num_heads, int(ids.numel()), n_keys],
            "thresholds": heads.thresholds(n_keys),
            "jacobian_norm_uniform": (n_keys - 1) ** 0.5 / n_keys,
            "classes_per_layer": {
                int(i): {c: int(counts.loc[i, c]) for c in HEAD_CLASSES} for i in counts.index
            },
        },
    )
    if cfg.plots:
        from hopfield_cli.report import figures, head_figures

        grid = table["head_class"].to_numpy().reshape(shape.num_layers, shape.num_heads)
        figures.save_head_classes(run_dir / "attention_classes.png", grid, n_keys)
        kbar = table["k_median"].to_numpy().reshape(shape.num_layers, shape.num_heads)
        head_figures.save_kbar_map(run_dir / "attention_kbar.png", kbar, grid, n_keys, cfg.pretrained)
        head_figures.save_class_histogram(run_dir / "attention_class_histogram.png", counts, cfg.pretrained)
    seconds = time.perf_counter() - started
    write_run_info(run_dir, "attention-heads", cfg.seed, device, seconds=seconds, **source)
    heads.print_summary(table, counts, shape.num_heads, n_keys, norms=True)
    return table
