"""Checkpoints of `hopfield train` as safetensors (never pickle): the model's state and the optimiser's.

``checkpoints/epoch_<e>.safetensors`` holds ``model.<name>`` for every entry of the model's state_dict and
``optim.<i>.<key>`` for every tensor of the optimiser's per-parameter state (AdamW's step, exp_avg,
exp_avg_sq; SGD's momentum buffer), with the epoch in the metadata. The optimiser's hyper-parameters are not
stored: they come from the config, which the resume fingerprint holds fixed. Written atomically.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from hopfield_cli.errors import UsageError
from hopfield_cli.report.files import atomic_write

FOLDER = "checkpoints"


def path_of(run_dir: Path, epoch: int) -> Path:
    return Path(run_dir) / FOLDER / f"epoch_{epoch}.safetensors"


def save(run_dir: Path, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> Path:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensor = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optim.{index}.{key}"] = tensor.detach().cpu().contiguous()
    path = path_of(run_dir, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"epoch": str(epoch)}))


def save_model(path: Path, model: nn.Module, metadata: dict[str, str]) -> Path:
    """The trained model alone (``model.safetensors``), loadable with ``load_state_dict``."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def load(run_dir: Path, epoch: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Restore the state after ``epoch`` (refused in one line when its checkpoint is missing or damaged)."""
    path = path_of(run_dir, epoch)
    try:
        tensors = load_file(str(path))
    except (OSError, Exception) as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise UsageError(
            "resume", f"cannot read the checkpoint of epoch {epoch} ({path}): {exc}; start a new run"
        ) from None
    device = next(iter(model.state_dict().values())).device
    model.load_state_dict(
        {k[len("model.") :]: v.to(device) for k, v in tensors.items() if k.startswith("model.")}
    )
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value if key == "step" else value.to(device)
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})


def prune(run_dir: Path, keep: int) -> None:
    """Remove the checkpoints of epochs before ``keep`` (the last finished epoch's is all a resume needs)."""
    folder = Path(run_dir) / FOLDER
    for file in folder.glob("epoch_*.safetensors"):
        try:
            epoch = int(file.stem.split("_", 1)[1])
        except ValueError:
            continue
        if epoch < keep:
            file.unlink(missing_ok=True)
