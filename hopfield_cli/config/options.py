"""One schema per config-group option: ``patterns``, ``corruption`` and ``model``.

Each option file in ``conf/<group>/<option>.yaml`` extends its schema here (``defaults: [<option>_schema]``),
so a key the chosen option does not have is refused by name (``model=modern model.n=7``), and ``--cfg job``
shows only the chosen option's fields. ``name`` is every group's discriminator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from omegaconf import MISSING

from hopfield_cli.config.application_tasks import APPLICATION_TASKS
from hopfield_cli.config.fields import opt, option_name
from hopfield_cli.config.mlm_task import MlmTask
from hopfield_cli.config.train_options import LAYERS, TASKS
from hopfield_cli.errors import Int, OneOf, Real, Text

# --- patterns: where the stored patterns come from ----------------------------------------------------


@dataclass
class PatternsOption:
    name: str = MISSING


@dataclass
class BinaryPatterns(PatternsOption):
    """Random +-1 patterns, each component independent and uniform."""

    name: str = option_name("binary", "patterns")


@dataclass
class GaussianPatterns(PatternsOption):
    """Standard normal entries."""

    name: str = option_name("gaussian", "patterns")


@dataclass
class SpherePatterns(PatternsOption):
    """Uniform on the sphere of radius K sqrt(d-1): Theorem 3's setting."""

    name: str = option_name("sphere", "patterns")
    radius_k: float = opt(
        1.0,
        "K: radius K*sqrt(d-1) (Theorem 3); up to 1e35 so every entry fits float32",
        Real(0, 1e35, open_lo=True),
    )


@dataclass
class CorrelatedPatterns(PatternsOption):
    """Patterns sharing one prototype: mean pairwise overlap x_i.x_j/d = correlation."""

    name: str = option_name("correlated", "patterns")
    correlation: float = opt(0.5, "mean pairwise overlap rho", Real(0, 1, open_hi=True))
    entries: str = opt("binary", "entries of prototype and patterns", OneOf(("binary", "gaussian")))


@dataclass
class FilePatterns(PatternsOption):
    """A matrix (N x d) from .npy, .csv, .safetensors or .pt (tensors only)."""

    name: str = option_name("file", "patterns")
    path: str | None = opt(None, "the file (required)", Text("a file path"))


@dataclass
class ImagePatterns(PatternsOption):
    """A folder of PNG/JPEG images, gray scale in [-1, 1], side x side pixels (d = side^2)."""

    name: str = option_name("images", "patterns")
    path: str | None = opt(None, "the folder of images (required)", Text("a folder path"))
    side: int = opt(64, "side length in pixels (d = side^2)", Int(1, 4096))


# --- corruption: how queries are made from stored patterns ---------------------------------------------


@dataclass
class CorruptionOption:
    name: str = MISSING


@dataclass
class FlipCorruption(CorruptionOption):
    """Exactly round(p*d) components, chosen at random, change sign (a Hamming sphere)."""

    name: str = option_name("flip", "corruption")
    p: float = opt(0.25, "fraction of components whose sign changes", Real(0, 1))


@dataclass
class FlipBernoulliCorruption(CorruptionOption):
    """Each component changes sign independently with probability p."""

    name: str = option_name("flip_bernoulli", "corruption")
    p: float = opt(0.2, "probability that a component changes sign", Real(0, 1))


@dataclass
class NoiseCorruption(CorruptionOption):
    """Additive Gaussian noise of standard deviation sigma."""

    name: str = option_name("noise", "corruption")
    sigma: float = opt(0.5, "std of the additive noise (up to 1e35: queries are float32)", Real(0, 1e35))


@dataclass
class MaskCorruption(CorruptionOption):
    """Exactly round(fraction*d) random components set to fill."""

    name: str = option_name("mask", "corruption")
    fraction: float = opt(0.5, "fraction of components masked", Real(0, 1))
    fill: float = opt(
        0.0, "value written into masked components (|fill| <= 1e38: float32)", Real(-1e38, 1e38)
    )


@dataclass
class MaskLowerHalfCorruption(CorruptionOption):
    """The lower half of each image set to fill (the blog's queries); otherwise the last half of d."""

    name: str = option_name("mask_lower_half", "corruption")
    fill: float = opt(
        0.0, "value written into masked components (|fill| <= 1e38: float32)", Real(-1e38, 1e38)
    )


@dataclass
class NoCorruption(CorruptionOption):
    """Queries are the stored patterns themselves."""

    name: str = option_name("none", "corruption")


# --- model: which family retrieves (beta is a top-level field) ----------------------------------------


@dataclass
class ModelOption:
    """A family's own fields; ``has_beta`` says whether the run's ``beta`` applies to it (core.models.Family
    says the same; tests/core/test_models.py holds the two together)."""

    name: str = MISSING
    has_beta: ClassVar[bool] = True


@dataclass
class ModernModel(ModelOption):
    """The paper: xi <- X softmax(beta X^T xi) (Eq. 3), energy Eq. 2."""

    name: str = option_name("modern", "model")


@dataclass
class ClassicalModel(ModelOption):
    """Hopfield (1982): W = sum x x^T / d, zero diagonal, sign updates."""

    has_beta: ClassVar[bool] = False
    name: str = option_name("classical", "model")
    update_rule: str = opt(
        "async", "async (random order, one unit at a time) | sync", OneOf(("async", "sync"))
    )


@dataclass
class DenseModel(ModelOption):
    """Krotov & Hopfield (2016): F(z) = z^n, asynchronous binary update."""

    has_beta: ClassVar[bool] = False
    name: str = option_name("dense", "model")
    n: int = opt(3, "interaction power F(z) = z^n", Int(1, 64))
    rectified: bool = opt(False, "F(z) = max(z, 0)^n")


@dataclass
class ExponentialModel(ModelOption):
    """Demircigil et al. (2017): F(z) = exp(beta z), computed in log space."""

    name: str = option_name("exponential", "model")


@dataclass
class SparseModel(ModelOption):
    """Sparse modern Hopfield: entmax in place of softmax."""

    name: str = option_name("sparse", "model")
    alpha: float = opt(2.0, "2 = sparsemax, 1.5 = entmax15", Real(1, 2, open_lo=True))


GROUPS: dict[str, dict[str, type]] = {
    "patterns": {
        "binary": BinaryPatterns,
        "gaussian": GaussianPatterns,
        "sphere": SpherePatterns,
        "correlated": CorrelatedPatterns,
        "file": FilePatterns,
        "images": ImagePatterns,
    },
    "corruption": {
        "flip": FlipCorruption,
        "flip_bernoulli": FlipBernoulliCorruption,
        "noise": NoiseCorruption,
        "mask": MaskCorruption,
        "mask_lower_half": MaskLowerHalfCorruption,
        "none": NoCorruption,
    },
    "model": {
        "modern": ModernModel,
        "classical": ClassicalModel,
        "dense": DenseModel,
        "exponential": ExponentialModel,
        "sparse": SparseModel,
    },
    # hopfield train: the tasks of train_options, Section 5's applications and the mlm, each from its module
    "task": {**TASKS, **APPLICATION_TASKS, "mlm": MlmTask},
    "layer": LAYERS,
}

# The families, read from the model options (torch-free; the core's registry must name the same).
FAMILIES = tuple(GROUPS["model"])
BETA_FAMILIES = tuple(name for name, schema in GROUPS["model"].items() if schema.has_beta)
