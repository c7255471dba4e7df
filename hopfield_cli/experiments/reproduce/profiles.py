"""The sizes of ``profile=quick`` (CI: minutes on 2 cores) and ``profile=full`` (hours: MIL cross-validation, the frontier).

Each capacity or fixed-point claim runs a named experiment (``conf/experiment/<name>.yaml``) through its
command's own entry point; a profile only adds overrides to it, and the report prints the resulting command,
so each claim's numbers can be regenerated alone with ``hopfield <command> experiment=<name> <overrides>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# experiment name -> (command, primary config name)
SUBRUNS: dict[str, tuple[str, str]] = {
    "capacity_sphere": ("capacity-sweep", "capacity_sweep"),
    "capacity_classical": ("capacity-sweep", "capacity_sweep"),
    "capacity_modern_vs_classical": ("capacity-sweep", "capacity_sweep"),
    "capacity_frontier": ("capacity-sweep", "capacity_sweep"),
    "metastable_clusters": ("metastable-scan", "metastable_scan"),
    "latch_hopfield": ("train", "train"),
    "latch_pooling": ("train", "train"),
    "latch_lookup": ("train", "train"),
    "latch_lstm": ("train", "train"),
    "bit_pattern_pooling": ("train", "train"),
    "bit_pattern_mean": ("train", "train"),
    "mil_elephant": ("train", "train"),
    "mil_ucsb": ("train", "train"),
    "repertoire_wr1": ("train", "train"),
    "mlm_softmax": ("train", "train"),
    "mlm_gaussian": ("train", "train"),
}
# experiments only the full profile runs (unless their claims are asked for by name): tens of minutes
FULL_ONLY = ("capacity_frontier", "mlm_softmax", "mlm_gaussian")
# quick profile: shorter latch sequences and fewer bit-pattern epochs (seconds, not minutes, per run)
_QUICK_LATCH = ("task.seq_len=64", "task.num_eval_sequences=256")
_QUICK_BITS = ("epochs=6", "task.num_eval_bags=256")
# quick: one repeat of 5 folds, one configuration, the model and its shuffle control only
_QUICK_MIL = ("task.profile=quick", "task.folds=5", "task.methods=[hopfield,shuffle]", "epochs=20")
# quick: the machinery at a 5% witness rate on 60 small repertoires (the 1% claim needs profile=full)
_QUICK_REPERTOIRE = (
    "task.witness_rate=0.05",
    "task.num_repertoires=60",
    "task.sequences=1000",
    "task.train_sequences=256",
    "task.largest_repertoire=20000",
    "epochs=8",
)


@dataclass(frozen=True)
class Profile:
    name: str
    eq3_cases: int  # random (Q, K, beta) cases compared with softmax(beta Q K^T) V and torch's SDPA
    energy_cases: int  # random cases per family for the energy descent
    thm5_sets: int  # pattern sets (N = 200 queries each) for Theorem 5
    head_layers: int  # layers of the small transformer whose attention is classified
    head_tokens: int  # sequence length = number of keys N
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)  # experiment -> extra overrides
    bert_windows: int = 8  # windows of 512 tokens the pre-trained BERT reads (bert_first_layer_averages)
    gradient_betas: int = 32  # betas of the gradient_regimes scan


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        eq3_cases=24,
        energy_cases=24,
        thm5_sets=4,
        head_layers=2,
        head_tokens=64,
        bert_windows=2,
        gradient_betas=16,
        overrides={
            "capacity_sphere": ("dims=[8,12,16]", "trials=2"),
            "capacity_classical": ("dims=[32,64,128]", "trials=2"),
            "capacity_modern_vs_classical": ("trials=2", "num_queries=32"),
            "metastable_clusters": ("num_betas=12",),
            **{
                name: _QUICK_LATCH
                for name in ("latch_hopfield", "latch_pooling", "latch_lookup", "latch_lstm")
            },
            "bit_pattern_pooling": _QUICK_BITS,
            "bit_pattern_mean": _QUICK_BITS,
            "mil_elephant": _QUICK_MIL,
            "mil_ucsb": _QUICK_MIL,
            "repertoire_wr1": _QUICK_REPERTOIRE,
        },
    ),
    "full": Profile(
        name="full",
        eq3_cases=200,
        energy_cases=200,
        thm5_sets=20,
        head_layers=4,
        head_tokens=128,
        overrides={name: () for name in SUBRUNS},
    ),
}


def subrun_overrides(profile: str, experiment: str, seed: int = 0, device: str = "auto") -> list[str]:
    """The overrides that make one experiment's sub-run of ``profile`` (seed and device only when not default)."""
    extra = ([f"seed={seed}"] if seed != 0 else []) + ([f"device={device}"] if device != "auto" else [])
    return [f"experiment={experiment}", *PROFILES[profile].overrides.get(experiment, ()), *extra]


def subrun_command(profile: str, experiment: str, seed: int = 0, device: str = "auto") -> str:
    """``hopfield <command> experiment=<name> <overrides>``: the sub-run as a command line."""
    command, _ = SUBRUNS[experiment]
    return " ".join(["hopfield", command, *subrun_overrides(profile, experiment, seed, device)])
