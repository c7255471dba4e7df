"""Device and dtype resolution (``device=auto`` picks CUDA when present, as minGPT's trainer does)."""

from __future__ import annotations

import torch

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


def resolve_device(spec: str) -> torch.device:
    """Turn ``auto|cpu|cuda|cuda:N`` into a torch.device, checking that it exists.

    Raises ValueError with a one-line message when the device is not available.
    """
    spec = str(spec).strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device '{spec}' requested but CUDA is not available; use device=auto or device=cpu"
            )
        if ":" in spec:
            idx_text = spec.split(":", 1)[1]
            if not idx_text.isdigit():
                raise ValueError(f"device '{spec}' is not of the form cuda:N")
            idx = int(idx_text)
            if idx >= torch.cuda.device_count():
                raise ValueError(
                    f"device '{spec}' does not exist: {torch.cuda.device_count()} CUDA device(s) visible"
                )
            return torch.device("cuda", idx)
        return torch.device("cuda")
    raise ValueError(f"device '{spec}' is not one of auto, cpu, cuda, cuda:N")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """Map a dtype name to torch; half precisions are offered on CUDA only (they accumulate in float32)."""
    if name not in DTYPES:
        raise ValueError(f"dtype '{name}' is not one of {', '.join(DTYPES)}")
    dtype = DTYPES[name]
    if dtype in (torch.bfloat16, torch.float16) and device.type != "cuda":
        raise ValueError(f"dtype '{name}' is offered on CUDA only; use float32 or float64 on {device.type}")
    return dtype
