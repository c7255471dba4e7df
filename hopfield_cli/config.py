"""Typed config schemas, registered with Hydra's ConfigStore so overrides are type-checked before any work.

Each subcommand has one primary YAML in ``conf/`` whose defaults list starts with its schema here
(``store_schema``, ``retrieve_schema``, ...). Config groups (``patterns=``, ``model=``, ``corruption=``)
merge into the typed sub-nodes below, so ``dim=abc`` or ``patterns.foo=1`` fail at composition.

Types alone cannot say "a positive integer"; ``validate(command, cfg)`` checks ranges and files and
raises ``UsageError(field, message)`` naming the field and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from hopfield_cli.errors import UsageError

DEVICE_HELP = "auto | cpu | cuda | cuda:N (auto picks CUDA when present)"


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class PatternsConfig:
    """Where the stored patterns come from (config group ``patterns``)."""

    source: str = field(
        default="binary", metadata=_help("binary | gaussian | sphere | correlated | file | images")
    )
    radius_k: float = field(default=1.0, metadata=_help("sphere: radius K*sqrt(d-1) (Theorem 3)"))
    correlation: float = field(default=0.5, metadata=_help("correlated: mean pairwise overlap rho in [0, 1)"))
    kind: str = field(default="binary", metadata=_help("correlated: binary | gaussian"))
    path: str | None = field(
        default=None, metadata=_help("file: .npy/.csv/.safetensors/.pt; images: a folder")
    )
    side: int = field(default=64, metadata=_help("images: side length in pixels (d = side^2)"))


@dataclass
class ModelConfig:
    """Which model family retrieves (config group ``model``); ``beta`` is top level."""

    name: str = field(default="modern", metadata=_help("modern | classical | dense | exponential | sparse"))
    update_rule: str = field(default="async", metadata=_help("classical: async | sync"))
    n: int = field(default=3, metadata=_help("dense: interaction power F(z) = z^n"))
    rectified: bool = field(default=False, metadata=_help("dense: F(z) = max(z, 0)^n"))
    alpha: float = field(default=2.0, metadata=_help("sparse: 2 = sparsemax, 1.5 = entmax15"))
    binarise: bool = field(default=False, metadata=_help("binary families: take sign() of non +-1 patterns"))


@dataclass
class CorruptionConfig:
    """How queries are made from stored patterns (config group ``corruption``)."""

    kind: str = field(
        default="flip", metadata=_help("flip | flip_bernoulli | noise | mask | mask_lower_half | none")
    )
    p: float = field(default=0.2, metadata=_help("flip: fraction of components whose sign changes"))
    sigma: float = field(default=0.5, metadata=_help("noise: std of additive Gaussian noise"))
    fraction: float = field(default=0.5, metadata=_help("mask: fraction of components set to fill"))
    fill: float = field(
        default=0.0, metadata=_help("mask/mask_lower_half: value written into masked components")
    )


@dataclass
class CommonConfig:
    seed: int = field(default=0, metadata=_help("seed for patterns, queries and update orders"))
    device: str = field(default="auto", metadata=_help(DEVICE_HELP))
    dtype: str = field(default="float32", metadata=_help("float32 | float64 (| bfloat16 | float16 on CUDA)"))


@dataclass
class StoreConfig(CommonConfig):
    patterns: PatternsConfig = field(default_factory=PatternsConfig)
    num_patterns: int = field(default=1000, metadata=_help("N, number of generated patterns"))
    dim: int = field(default=64, metadata=_help("d, pattern dimension (generated sources)"))
    beta: float = field(
        default=8.0, metadata=_help("inverse temperature used to count well-separated patterns")
    )
    normalise: str = field(default="none", metadata=_help("none | unit | center | standard"))
    binarise: bool = field(default=False, metadata=_help("take sign() of the patterns (0 -> +1)"))
    out: str | None = field(
        default=None, metadata=_help("memory file to write; null = <run dir>/memory.safetensors")
    )


@dataclass
class RetrieveConfig(StoreConfig):
    model: ModelConfig = field(default_factory=ModelConfig)
    beta: float = field(default=8.0, metadata=_help("inverse temperature beta (modern, exponential, sparse)"))
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    memory: str | None = field(
        default=None, metadata=_help("memory file from `hopfield store`; null = make patterns")
    )
    queries_file: str | None = field(default=None, metadata=_help("read queries (B x d) from a file instead"))
    targets_file: str | None = field(
        default=None, metadata=_help("target ids for queries_file; null = nearest")
    )
    num_queries: int | None = field(
        default=None, metadata=_help("queries made from stored patterns; null = min(N, 1000)")
    )
    update_steps_max: int = field(default=100, metadata=_help("stop after this many updates"))
    eps: float = field(default=1e-5, metadata=_help("converged when ||xi_{t+1} - xi_t|| <= eps"))
    memory_budget: str | None = field(
        default=None, metadata=_help("bytes for score blocks, e.g. 512MiB; null = auto")
    )
    success: str = field(
        default="nearest", metadata=_help("nearest | cosine | mse (see README: success criteria)")
    )
    success_tol: float | None = field(
        default=None, metadata=_help("null = the criterion's default: nearest 0.25, cosine 0.9, mse 0.01")
    )
    grid_rows: int = field(
        default=8, metadata=_help("image memories: rows in the query/retrieved/target PNG")
    )


@dataclass
class CapacitySweepConfig(CommonConfig):
    """`hopfield capacity-sweep`: success rate vs N, capacity per (model, beta, d)."""

    patterns: PatternsConfig = field(default_factory=PatternsConfig)
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    models: list[str] = field(
        default_factory=lambda: ["modern", "classical"], metadata=_help("model families side by side")
    )
    beta: float = field(default=8.0, metadata=_help("inverse temperature (used when betas is null)"))
    betas: list[float] | None = field(default=None, metadata=_help("several betas; null = [beta]"))
    dim: int = field(default=64, metadata=_help("d (used when dims is null)"))
    dims: list[int] | None = field(
        default=None, metadata=_help("several dimensions, e.g. [16,32,64,128]; null = [dim]")
    )
    memory: str | None = field(
        default=None, metadata=_help("a memory file: N ranges over prefixes of its patterns")
    )
    normalise: str = field(default="none", metadata=_help("none | unit | center | standard"))
    binarise: bool = field(default=False, metadata=_help("take sign() of the patterns"))
    trials: int = field(default=5, metadata=_help("independent pattern sets per N"))
    num_queries: int = field(default=64, metadata=_help("queries per trial (distinct targets when N allows)"))
    n_start: int = field(default=4, metadata=_help("first N of the geometric growth"))
    n_max: int = field(default=1_000_000, metadata=_help("largest N tried"))
    growth: float = field(default=8.0, metadata=_help("factor between successive N while growing"))
    refine_steps: int = field(default=5, metadata=_help("bisection steps on the crossing"))
    threshold: float = field(
        default=0.9, metadata=_help("capacity = largest N with success rate >= threshold")
    )
    update_steps_max: int = field(default=100, metadata=_help("stop after this many updates"))
    eps: float = field(default=1e-5, metadata=_help("converged when ||xi_{t+1} - xi_t|| <= eps"))
    memory_budget: str | None = field(
        default=None, metadata=_help("bytes for score blocks, e.g. 512MiB; null = auto")
    )
    success: str = field(default="nearest", metadata=_help("nearest | cosine | mse"))
    success_tol: float | None = field(default=None, metadata=_help("null = the criterion's default"))
    resume: str | None = field(default=None, metadata=_help("a previous run folder to continue"))
    plots: bool = field(default=True, metadata=_help("write PNG figures"))


@dataclass
class MetastableScanConfig(CommonConfig):
    """`hopfield metastable-scan`: fixed-point kinds across beta; attention-head classes."""

    patterns: PatternsConfig = field(default_factory=PatternsConfig)
    corruption: CorruptionConfig = field(default_factory=CorruptionConfig)
    num_patterns: int = field(default=64, metadata=_help("N stored patterns"))
    dim: int = field(default=64, metadata=_help("d"))
    clusters: int = field(
        default=0, metadata=_help("0 = plain patterns; k > 0 = k groups of similar patterns")
    )
    cluster_spread: float = field(
        default=0.1, metadata=_help("std of a pattern around its cluster centre, relative")
    )
    memory: str | None = field(default=None, metadata=_help("a memory file instead of generated patterns"))
    normalise: str = field(default="none", metadata=_help("none | unit | center | standard"))
    binarise: bool = field(default=False, metadata=_help("take sign() of the patterns"))
    queries: str = field(default="corrupted", metadata=_help("corrupted | random"))
    num_queries: int = field(default=128, metadata=_help("queries per beta"))
    beta_min: float | None = field(
        default=None, metadata=_help("null = below the global condition beta m_max^2 < 1")
    )
    beta_max: float | None = field(default=None, metadata=_help("null = above the well-separated condition"))
    num_betas: int = field(default=24, metadata=_help("log-spaced betas in [beta_min, beta_max]"))
    update_steps_max: int = field(default=500, metadata=_help("iterations to reach the fixed point"))
    eps: float = field(default=1e-6, metadata=_help("converged when ||xi_{t+1} - xi_t|| <= eps"))
    memory_budget: str | None = field(default=None, metadata=_help("bytes for score blocks; null = auto"))
    attention: str | None = field(
        default=None, metadata=_help("attention probabilities file: classify heads instead")
    )
    resume: str | None = field(default=None, metadata=_help("a previous run folder to continue"))
    plots: bool = field(default=True, metadata=_help("write PNG figures"))


SCHEMAS: dict[str, type] = {
    "store": StoreConfig,
    "retrieve": RetrieveConfig,
    "capacity-sweep": CapacitySweepConfig,
    "metastable-scan": MetastableScanConfig,
}


def register_configs() -> None:
    """Register every schema with Hydra's ConfigStore (idempotent)."""
    cs = ConfigStore.instance()
    for command, schema in SCHEMAS.items():
        cs.store(name=f"{command.replace('-', '_')}_schema", node=schema)


# --- value validation -------------------------------------------------------------------------------

_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_bytes(text: Any, field_name: str = "memory_budget") -> int | None:
    """'512MiB' | '2GB' | '1000000' | None -> bytes (None means choose automatically)."""
    if text is None or str(text).strip().lower() in ("", "auto", "none", "null"):
        return None
    raw = str(text).strip().lower().replace(" ", "")
    number = raw.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = raw[len(number) :]
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if unit not in _SIZE_UNITS or not math.isfinite(value) or value <= 0:
        raise UsageError(field_name, f"must be a size like 512MiB, 2GB or a byte count > 0, got '{text}'")
    return int(value * _SIZE_UNITS[unit])


def _positive_int(value: Any, name: str, upper: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(name, f"must be an integer >= 1, got {value!r}")
    if upper is not None and value > upper:
        raise UsageError(name, f"must be at most {upper:,}, got {value:,}")


def _positive_finite(value: Any, name: str) -> None:
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise UsageError(name, f"must be a finite number > 0, got {value!r}")


def _choice(value: Any, name: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise UsageError(name, f"must be one of {', '.join(allowed)}; got {value!r}")


def _existing(path: Any, name: str, kind: str = "file") -> None:
    if path is None or str(path).strip() == "":
        raise UsageError(name, f"a {kind} path is required")
    path = os.path.expanduser(str(path))
    if not os.path.exists(path):
        raise UsageError(name, f"{kind} not found: {path}")
    if kind == "file" and os.path.isdir(path):
        raise UsageError(name, f"expected a file, got a directory: {path}")
    if kind == "folder" and not os.path.isdir(path):
        raise UsageError(name, f"expected a folder of images, got a file: {path}")
    if not os.access(path, os.R_OK):
        raise UsageError(name, f"{kind} is not readable (permission denied): {path}")


def check_creatable(path: Any, name: str, kind: str = "folder") -> None:
    """``path`` exists as a writable ``kind`` or can be created: its nearest existing ancestor is a writable folder.

    Checked before any run, so an output under a file or a read-only folder is one line, not an OSError later.
    """
    target = os.path.abspath(os.path.expanduser(str(path)))
    if os.path.exists(target):
        if kind == "folder" and not os.path.isdir(target):
            raise UsageError(name, f"cannot create the folder {target}: a file of that name exists")
        if kind == "file" and os.path.isdir(target):
            raise UsageError(name, f"{target} is a directory; expected a file name")
        check = target if kind == "folder" else os.path.dirname(target)
        if not os.access(check, os.W_OK):
            raise UsageError(name, f"{check} is not writable (permission denied)")
        return
    ancestor = os.path.dirname(target)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(name, f"cannot create {target}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(name, f"cannot create {target}: {ancestor} is not writable (permission denied)")


# Largest sizes we accept before even estimating memory: beyond them a run is certainly a typo.
MAX_PATTERNS = 10**9
MAX_DIM = 10**7


def validate_common(cfg: Any) -> None:
    _choice(cfg.dtype, "dtype", ("float32", "float64", "bfloat16", "float16"))
    device = str(cfg.device)
    if not (device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
        raise UsageError("device", f"must be one of auto, cpu, cuda, cuda:N; got {device!r}")
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise UsageError("seed", f"must be an integer >= 0, got {cfg.seed!r}")


def validate_patterns(cfg: Any, prefix: str = "patterns") -> None:
    p = cfg.patterns
    _choice(p.source, f"{prefix}.source", ("binary", "gaussian", "sphere", "correlated", "file", "images"))
    if p.source == "file":
        _existing(p.path, f"{prefix}.path", "file")
    elif p.source == "images":
        _existing(p.path, f"{prefix}.path", "folder")
        _positive_int(p.side, f"{prefix}.side", upper=4096)
    else:
        _positive_int(cfg.num_patterns, "num_patterns", upper=MAX_PATTERNS)
        _positive_int(cfg.dim, "dim", upper=MAX_DIM)
    if p.source == "sphere":
        _positive_finite(p.radius_k, f"{prefix}.radius_k")
    if p.source == "correlated":
        if not (math.isfinite(p.correlation) and 0.0 <= p.correlation < 1.0):
            raise UsageError(f"{prefix}.correlation", f"must be in [0, 1), got {p.correlation!r}")
        _choice(p.kind, f"{prefix}.kind", ("binary", "gaussian"))


def validate_store(cfg: Any) -> None:
    validate_common(cfg)
    # dim/num_patterns are checked first when given so that `dim=0` names dim even with a file source.
    if cfg.patterns.source in ("file", "images"):
        _positive_int(cfg.num_patterns, "num_patterns", upper=MAX_PATTERNS)
        _positive_int(cfg.dim, "dim", upper=MAX_DIM)
    validate_patterns(cfg)
    _positive_finite(cfg.beta, "beta")
    _choice(cfg.normalise, "normalise", ("none", "unit", "center", "standard"))
    if cfg.out:
        check_creatable(cfg.out, "out", kind="file")


def validate_corruption(c: Any, prefix: str = "corruption") -> None:
    _choice(c.kind, f"{prefix}.kind", ("flip", "flip_bernoulli", "noise", "mask", "mask_lower_half", "none"))
    for name in ("p", "fraction"):
        value = getattr(c, name)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise UsageError(f"{prefix}.{name}", f"must be in [0, 1], got {value!r}")
    if not (math.isfinite(c.sigma) and c.sigma >= 0):
        raise UsageError(f"{prefix}.sigma", f"must be a finite number >= 0, got {c.sigma!r}")
    if not math.isfinite(c.fill):
        raise UsageError(f"{prefix}.fill", f"must be a finite number, got {c.fill!r}")


def validate_model(m: Any, prefix: str = "model") -> None:
    _choice(m.name, f"{prefix}.name", ("modern", "classical", "dense", "exponential", "sparse"))
    _choice(m.update_rule, f"{prefix}.update_rule", ("async", "sync"))
    _positive_int(m.n, f"{prefix}.n", upper=64)
    if not (math.isfinite(m.alpha) and 1.0 < m.alpha <= 2.0):
        raise UsageError(f"{prefix}.alpha", f"must be in (1, 2], got {m.alpha!r}")


def validate_retrieval_settings(cfg: Any) -> None:
    if (
        isinstance(cfg.update_steps_max, bool)
        or not isinstance(cfg.update_steps_max, int)
        or cfg.update_steps_max < 0
    ):
        raise UsageError("update_steps_max", f"must be an integer >= 0, got {cfg.update_steps_max!r}")
    _positive_finite(cfg.eps, "eps")
    parse_bytes(cfg.memory_budget)
    _choice(cfg.success, "success", ("nearest", "cosine", "mse"))
    if cfg.success_tol is not None:
        _positive_finite(cfg.success_tol, "success_tol")


def validate_retrieve(cfg: Any) -> None:
    validate_common(cfg)
    _positive_finite(cfg.beta, "beta")
    if cfg.memory is not None:
        _existing(cfg.memory, "memory", "file")
    else:
        validate_patterns(cfg)
    _choice(cfg.normalise, "normalise", ("none", "unit", "center", "standard"))
    validate_model(cfg.model)
    validate_corruption(cfg.corruption)
    validate_retrieval_settings(cfg)
    if cfg.queries_file is not None:
        _existing(cfg.queries_file, "queries_file", "file")
    if cfg.targets_file is not None:
        if cfg.queries_file is None:
            raise UsageError("targets_file", "needs queries_file (targets of generated queries are known)")
        _existing(cfg.targets_file, "targets_file", "file")
    if cfg.num_queries is not None:
        _positive_int(cfg.num_queries, "num_queries", upper=10**8)
    _positive_int(cfg.grid_rows, "grid_rows", upper=64)


def _resume_folder(folder: Any, command: str) -> None:
    """``resume=`` names a run folder of this command (its ``sweep.json``, see cells.py), checked before any run."""
    if folder is None:
        return
    path = os.path.expanduser(str(folder))
    if not os.path.isdir(path):
        raise UsageError("resume", f"no such run folder: {path}")
    if not os.path.isfile(os.path.join(path, "sweep.json")):
        raise UsageError("resume", f"{path} is not a {command} run folder (it has no sweep.json)")
    if not os.access(path, os.W_OK):
        raise UsageError("resume", f"the run folder is not writable: {path}")


def _check_list(values: Any, name: str) -> None:
    if values is not None and len(values) == 0:
        raise UsageError(name, "must not be empty; give at least one value or null")


def validate_capacity_sweep(cfg: Any) -> None:
    validate_common(cfg)
    _check_list(cfg.models, "models")
    for i, name in enumerate(cfg.models):
        _choice(name, f"models[{i}]", ("modern", "classical", "dense", "exponential", "sparse"))
    validate_model(cfg.model)
    _positive_finite(cfg.beta, "beta")
    _check_list(cfg.betas, "betas")
    for i, b in enumerate(cfg.betas or []):
        _positive_finite(b, f"betas[{i}]")
    _positive_int(cfg.dim, "dim", upper=MAX_DIM)
    _check_list(cfg.dims, "dims")
    for i, d in enumerate(cfg.dims or []):
        _positive_int(d, f"dims[{i}]", upper=MAX_DIM)
    if cfg.memory is not None:
        _existing(cfg.memory, "memory", "file")
    elif cfg.patterns.source in ("file", "images"):
        validate_patterns(cfg)
    else:
        _choice(
            cfg.patterns.source,
            "patterns.source",
            ("binary", "gaussian", "sphere", "correlated", "file", "images"),
        )
    _choice(cfg.normalise, "normalise", ("none", "unit", "center", "standard"))
    validate_corruption(cfg.corruption)
    validate_retrieval_settings(cfg)
    _positive_int(cfg.trials, "trials", upper=10_000)
    _positive_int(cfg.num_queries, "num_queries", upper=10**7)
    _positive_int(cfg.n_start, "n_start", upper=MAX_PATTERNS)
    _positive_int(cfg.n_max, "n_max", upper=MAX_PATTERNS)
    if cfg.n_max < cfg.n_start:
        raise UsageError("n_max", f"must be >= n_start ({cfg.n_start}), got {cfg.n_max}")
    if not (math.isfinite(cfg.growth) and cfg.growth > 1.0):
        raise UsageError("growth", f"must be a finite number > 1, got {cfg.growth!r}")
    if isinstance(cfg.refine_steps, bool) or cfg.refine_steps < 0:
        raise UsageError("refine_steps", f"must be an integer >= 0, got {cfg.refine_steps!r}")
    if not (math.isfinite(cfg.threshold) and 0.0 < cfg.threshold <= 1.0):
        raise UsageError("threshold", f"must be in (0, 1], got {cfg.threshold!r}")
    _resume_folder(cfg.resume, "capacity-sweep")


def validate_metastable_scan(cfg: Any) -> None:
    validate_common(cfg)
    if cfg.attention is not None:
        _existing(cfg.attention, "attention", "file")
        return
    if cfg.memory is not None:
        _existing(cfg.memory, "memory", "file")
    else:
        validate_patterns(cfg)
    if isinstance(cfg.clusters, bool) or cfg.clusters < 0:
        raise UsageError("clusters", f"must be an integer >= 0, got {cfg.clusters!r}")
    if cfg.clusters > cfg.num_patterns:
        raise UsageError("clusters", f"must be at most num_patterns ({cfg.num_patterns}), got {cfg.clusters}")
    if not (math.isfinite(cfg.cluster_spread) and cfg.cluster_spread >= 0):
        raise UsageError("cluster_spread", f"must be a finite number >= 0, got {cfg.cluster_spread!r}")
    _choice(cfg.normalise, "normalise", ("none", "unit", "center", "standard"))
    _choice(cfg.queries, "queries", ("corrupted", "random"))
    validate_corruption(cfg.corruption)
    _positive_int(cfg.num_queries, "num_queries", upper=10**7)
    for name in ("beta_min", "beta_max"):
        if getattr(cfg, name) is not None:
            _positive_finite(getattr(cfg, name), name)
    if cfg.beta_min is not None and cfg.beta_max is not None and cfg.beta_max <= cfg.beta_min:
        raise UsageError("beta_max", f"must be > beta_min ({cfg.beta_min}), got {cfg.beta_max}")
    _positive_int(cfg.num_betas, "num_betas", upper=10_000)
    if isinstance(cfg.update_steps_max, bool) or cfg.update_steps_max < 0:
        raise UsageError("update_steps_max", f"must be an integer >= 0, got {cfg.update_steps_max!r}")
    _positive_finite(cfg.eps, "eps")
    parse_bytes(cfg.memory_budget)
    _resume_folder(cfg.resume, "metastable-scan")


VALIDATORS = {
    "store": validate_store,
    "retrieve": validate_retrieve,
    "capacity-sweep": validate_capacity_sweep,
    "metastable-scan": validate_metastable_scan,
}


def _known_keys(schema: type, cfg: Any, prefix: str = "") -> None:
    """Refuse keys the schema does not have (``+typo=1`` composes, and would silently do nothing)."""
    if not hasattr(cfg, "keys"):
        return
    fields_by_name = {f.name: f for f in dataclasses.fields(schema)}
    for key in cfg.keys():
        name = f"{prefix}{key}"
        if key not in fields_by_name:
            raise UsageError(name, "unknown key; run with --help to list the fields")
        kind = fields_by_name[key].default_factory  # nested groups (patterns, model, corruption)
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            _known_keys(kind, cfg[key], f"{name}.")


def validate(command: str, cfg: Any) -> None:
    """Check keys, ranges, choices and input files of a composed config, then that the run fits the device
    and its memory (``resources``); raise UsageError on the first problem."""
    from hopfield_cli.resources import check_resources

    _known_keys(SCHEMAS[command], cfg)
    VALIDATORS[command](cfg)
    check_resources(command, cfg)


__all__ = [
    "MISSING",
    "SCHEMAS",
    "VALIDATORS",
    "CapacitySweepConfig",
    "CorruptionConfig",
    "MetastableScanConfig",
    "ModelConfig",
    "PatternsConfig",
    "RetrieveConfig",
    "StoreConfig",
    "parse_bytes",
    "register_configs",
    "validate",
]
