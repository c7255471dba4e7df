"""Claims about transformers through the Hopfield lens (Section 4, Appendix A.5; Figs. A.3-A.5).

- ``bert_first_layer_averages``: in a pre-trained BERT (all-MiniLM-L6-v2, shipped by a pip package) most
  heads of the first layer average globally (class I), more than in any later layer; NOT APPLICABLE, with the
  reason, where the package is not installed.
- ``heads_start_global`` / ``heads_become_metastable`` (from a `hopfield train task=mlm` run): every head starts
  in class I; by the end at least half of the heads have left class I, while most heads of the first layer
  still average.
- ``gaussian_heads_suffice``: the same model with Gaussian averaging heads in its first layer (2N parameters
  per head instead of 2 d (d_head + 1)) reaches the softmax model's validation loss within ``GAUSSIAN_TOL``.
- ``gradient_regimes`` (on the core's own update, Eq. 3): across a beta scan of clustered patterns, the
  softmax-Jacobian norm ||diag(p) - p p^T||_F at the fixed point is largest where the fixed point is
  metastable, equals the uniform value sqrt(N-1)/N with the gradient spread evenly over the patterns where it
  is global, and vanishes (< ``VANISH``) where it is a single pattern.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import torch

from hopfield_cli.core.fixed_points import KINDS, fixed_point_kind, k90
from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.core.softmax_jacobian import diagonal_spread, softmax_jacobian_norm
from hopfield_cli.experiments.reproduce.claims import Claim, relative_figure, reproduce_command, verdict
from hopfield_cli.experiments.reproduce.profiles import Profile
from hopfield_cli.report.files import write_table

CLASSES = ("I", "II", "III", "IV")
LEAVE_FRACTION = 0.5  # at least this fraction of all heads must have left class I by the last step
FIRST_LAYER_GLOBAL = 0.5  # more than this fraction of the first layer's heads stays (or is) class I
GAUSSIAN_TOL = 0.05  # nats of validation loss the Gaussian-first-layer model may lose against softmax
UNIFORM_TOL = 0.02  # relative: global-range norms within 2% of sqrt(N-1)/N
SPREAD_TOL = 0.25  # coefficient of variation of p_i (1 - p_i) over the patterns, at every global fixed point
VANISH = 1e-3  # single-pattern fixed points: the norm falls with beta, below this at the largest beta
BETAS = (1e-3, 100.0)  # the scan's range: global averaging at its low end, single patterns at its high end


def _layer_counts(heads: pd.DataFrame) -> pd.DataFrame:
    counts = heads.groupby("layer")["head_class"].value_counts().unstack(fill_value=0)
    return counts.reindex(columns=list(CLASSES), fill_value=0)


def _counts_text(counts: pd.DataFrame) -> str:
    return "; ".join(
        f"layer {i}: " + "/".join(str(int(counts.loc[i, c])) for c in CLASSES) for i in counts.index
    )


def bert_first_layer_averages(profile: Profile, seed: int, root: Path) -> Claim:
    from hopfield_cli.data import pretrained

    base = {
        "claim": "bert_first_layer_averages",
        "title": "A pre-trained BERT's first layer averages",
        "statement": "In a pre-trained BERT, most heads of the first layer average over the whole sequence "
        "(class I, global fixed point); later layers hold metastable heads (classes II-IV).",
        "where": "Section 4, Fig. A.3",
        "command": reproduce_command("bert_first_layer_averages", profile.name),
        "theory": f"layer 0: class I fraction > {FIRST_LAYER_GLOBAL}, the largest of all layers",
    }
    if not pretrained.shipped_available("minilm"):
        return Claim(
            **base,
            measured="not measured: all-MiniLM-L6-v2 is not installed",
            tolerance="-",
            verdict=verdict(None),
            detail=f"install it with: {pretrained.INSTALL_MODELS} (or make install-models)",
        )
    from hopfield_cli.experiments.attention_heads import pretrained as model_heads

    folder = root / "runs" / "bert_minilm"
    folder.mkdir(parents=True, exist_ok=True)
    cfg = SimpleNamespace(
        pretrained="minilm",
        text="pydoc",
        windows=profile.bert_windows,
        seq_len=512,
        device="cpu",
        seed=seed,
        plots=True,
    )
    table = model_heads.run(cfg, folder)
    counts = _layer_counts(table)
    fraction = counts["I"] / counts.sum(axis=1)
    ok = bool(fraction.iloc[0] > FIRST_LAYER_GLOBAL and fraction.iloc[0] >= fraction.max())
    return Claim(
        **base,
        measured=f"layer 0 class I {int(counts.loc[0, 'I'])}/{int(counts.loc[0].sum())}; I/II/III/IV per layer: "
        + _counts_text(counts),
        tolerance="none",
        verdict=verdict(ok),
        theory_value=FIRST_LAYER_GLOBAL,
        measured_value=float(fraction.iloc[0]),
        figure=relative_figure(folder / "attention_class_histogram.png", root),
        detail=f"all-MiniLM-L6-v2 (6 x 12 heads), {profile.bert_windows} windows of 512 tokens of the pinned "
        "pydoc text; N = 512",
    )


def _by_step(heads: pd.DataFrame) -> pd.DataFrame:
    counts = heads.groupby("step")["head_class"].value_counts().unstack(fill_value=0)
    return counts.reindex(columns=list(CLASSES), fill_value=0)


def _figure(folders: dict[str, Path], name: str, file: str, root: Path) -> str:
    path = folders[name] / file
    return relative_figure(path if path.is_file() else None, root)


def heads_start_global(
    tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
) -> Claim:
    heads = tables["mlm_softmax"]
    first = heads[heads["step"] == heads["step"].min()]
    n_global, n = int((first["head_class"] == "I").sum()), len(first)
    return Claim(
        claim="heads_start_global",
        title="Heads of a transformer start by averaging",
        statement="At the start of training every attention head averages over the sequence (class I, the "
        "global fixed point): with small random weights all scores are nearly equal.",
        where="Appendix A.5, Fig. A.4",
        command=commands["mlm_softmax"],
        theory="every head in class I at step 0",
        measured=f"{n_global}/{n} heads in class I at step 0",
        tolerance="none",
        verdict=verdict(n_global == n),
        theory_value=float(n),
        measured_value=float(n_global),
        figure=_figure(folders, "mlm_softmax", "head_classes_over_steps.png", root),
    )


def heads_become_metastable(
    tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
) -> Claim:
    heads = tables["mlm_softmax"]
    steps = _by_step(heads)
    last_step = int(heads["step"].max())
    last = heads[heads["step"] == last_step]
    left = float((last["head_class"] != "I").mean())
    first_layer = last[last["layer"] == 0]
    first_global = float((first_layer["head_class"] == "I").mean())
    ok = left >= LEAVE_FRACTION and first_global > FIRST_LAYER_GLOBAL
    history = ", ".join(f"{int(s)}: {int(r['I'])}" for s, r in steps.iterrows())
    return Claim(
        claim="heads_become_metastable",
        title="Most heads leave global averaging while the first layer keeps it",
        statement="During training most heads switch from averaging to metastable states (classes II-IV), "
        "while most heads of the first layer keep averaging.",
        where="Appendix A.5, Fig. A.4",
        command=commands["mlm_softmax"],
        theory=f"at the last step >= {LEAVE_FRACTION:.0%} of heads not in class I; layer 0 > "
        f"{FIRST_LAYER_GLOBAL:.0%} class I",
        measured=f"step {last_step}: {left:.0%} of heads left class I; layer 0 class I "
        f"{int((first_layer['head_class'] == 'I').sum())}/{len(first_layer)}",
        tolerance="none",
        verdict=verdict(ok),
        theory_value=LEAVE_FRACTION,
        measured_value=left,
        figure=_figure(folders, "mlm_softmax", "head_classes_over_steps.png", root),
        detail=f"class I heads per evaluation step: {history}",
    )


def _final_loss(heads: pd.DataFrame) -> float:
    return float(heads.loc[heads["step"] == heads["step"].max(), "valid_loss"].iloc[0])


def gaussian_heads_suffice(
    tables: dict[str, pd.DataFrame], folders: dict[str, Path], commands: dict[str, str], root: Path
) -> Claim:
    import json

    softmax, gaussian = _final_loss(tables["mlm_softmax"]), _final_loss(tables["mlm_gaussian"])
    summary = json.loads((folders["mlm_gaussian"] / "summary.json").read_text())
    own, twin = summary["score_parameters"], summary["softmax_twin_score_parameters"]
    return Claim(
        claim="gaussian_heads_suffice",
        title="Gaussian averaging heads can replace the first layer's heads",
        statement="Heads that average can be replaced by a Gaussian weighting over positions with far fewer "
        "parameters, without a loss in performance.",
        where="Appendix A.5",
        command="; ".join(commands[n] for n in ("mlm_softmax", "mlm_gaussian")),
        theory=f"validation loss(Gaussian layer 0) <= loss(softmax) + {GAUSSIAN_TOL}",
        measured=f"final validation loss: softmax {softmax:.4f}, Gaussian layer 0 {gaussian:.4f}; score "
        f"parameters {own:,} vs {twin:,}",
        tolerance=f"{GAUSSIAN_TOL} nats (seed-to-seed spread of the loss of this small model)",
        verdict=verdict(gaussian <= softmax + GAUSSIAN_TOL),
        theory_value=softmax + GAUSSIAN_TOL,
        measured_value=gaussian,
        figure=_figure(folders, "mlm_gaussian", "head_classes_over_steps.png", root),
        detail=f"parameters: Gaussian model {summary['parameters']:,}, softmax model "
        f"{summary['softmax_twin_parameters']:,}",
    )


def clustered_patterns(seed: int, clusters: int = 8, size: int = 8, dim: int = 64) -> torch.Tensor:
    """(clusters * size, dim) float64: Gaussian cluster centres, members at 0.1 of the centre norm around them."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(clusters, dim, generator=g, dtype=torch.float64)
    spread = 0.1 * centres.norm(dim=1, keepdim=True) / math.sqrt(dim)
    members = centres[:, None] + spread[:, None] * torch.randn(
        clusters, size, dim, generator=g, dtype=torch.float64
    )
    return members.reshape(-1, dim)


def gradient_scan(seed: int, num_betas: int) -> pd.DataFrame:
    """Per beta: the fixed point's kind, k90, softmax-Jacobian norm and diagonal spread, medians over queries
    (stored patterns + N(0, 0.5^2) noise), from the core's retrieval (Eq. 3 iterated to convergence)."""
    patterns = clustered_patterns(seed)
    n = patterns.shape[0]
    g = torch.Generator().manual_seed(seed + 1)
    queries = patterns + 0.5 * torch.randn(patterns.shape, generator=g, dtype=torch.float64)
    rows = []
    low, high = (math.log10(b) for b in BETAS)
    for beta in torch.logspace(low, high, num_betas, dtype=torch.float64).tolist():
        result = ModernHopfield(beta).retrieve(
            patterns, queries, update_steps_max=500, eps=1e-10, stats=False
        )
        p = torch.softmax(beta * result.states @ patterns.T, dim=-1)  # (B, N) at the fixed point
        k = k90(p)
        kinds = fixed_point_kind(k, n)
        norms = softmax_jacobian_norm(p)
        rows.append(
            {
                "beta": beta,
                "kind": KINDS[int(kinds.mode().values)],
                "k90_median": float(k.double().median()),
                "jacobian_norm": float(norms.median()),
                "diagonal_spread": float(diagonal_spread(p).median()),
                "num_patterns": n,
            }
        )
    return pd.DataFrame(rows)


def gradient_regimes(profile: Profile, seed: int, root: Path) -> Claim:
    table = gradient_scan(seed, profile.gradient_betas)
    write_table(table, root / "runs" / "gradient_regimes", "per_beta")
    n = int(table["num_patterns"].iloc[0])
    uniform = math.sqrt(n - 1) / n
    peak = table.loc[table["jacobian_norm"].idxmax()]
    glob, single = table[table["kind"] == "global"], table[table["kind"] == "single"]
    global_ok = bool(
        len(glob)
        and ((glob["jacobian_norm"] / uniform - 1).abs() <= UNIFORM_TOL).all()
        and (glob["diagonal_spread"] <= SPREAD_TOL).all()
    )
    falling = single["jacobian_norm"].diff().dropna()
    single_ok = bool(len(single) and (falling < 0).all() and single["jacobian_norm"].iloc[-1] < VANISH)
    ok = peak["kind"] == "metastable" and global_ok and single_ok
    measured = (
        f"peak {peak['jacobian_norm']:.3f} at beta {peak['beta']:.3g} ({peak['kind']}, k90 {peak['k90_median']:g}); "
        f"global: norm {glob['jacobian_norm'].min():.4f}..{glob['jacobian_norm'].max():.4f}, spread <= "
        f"{glob['diagonal_spread'].max():.3g}; single: norm falls from {single['jacobian_norm'].iloc[0]:.2e} "
        f"to {single['jacobian_norm'].iloc[-1]:.2e}"
        if len(glob) and len(single)
        else f"a regime is missing from the scan: kinds {sorted(set(table['kind']))}"
    )
    return Claim(
        claim="gradient_regimes",
        title="The gradient is largest in metastable states",
        statement="The softmax Jacobian (the gradient through an attention update) is largest in metastable "
        "states, uniform over the patterns at the global fixed point, and vanishes near a single pattern.",
        where="Appendix A.5, Fig. A.5; J = beta X (diag(p) - p p^T) X^T (Section 2)",
        command=reproduce_command("gradient_regimes", profile.name),
        theory=f"argmax over beta in the metastable range; global: sqrt(N-1)/N = {uniform:.4f} within "
        f"{UNIFORM_TOL:.0%}, diagonal spread <= {SPREAD_TOL}; single: falling with beta, < {VANISH} at the end",
        measured=measured,
        tolerance=f"{UNIFORM_TOL:.0%} of the uniform value; spread {SPREAD_TOL}; vanishing below {VANISH}",
        verdict=verdict(ok),
        theory_value=uniform,
        measured_value=float(peak["jacobian_norm"]),
        detail=f"{n} patterns in 8 clusters of 8 (d = 64), {profile.gradient_betas} betas in {list(BETAS)}, "
        "median over 64 queries",
    )
