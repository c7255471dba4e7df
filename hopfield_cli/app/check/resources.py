"""The resources of a run in plain sight: the device, dtype and CPU threads it runs with, the memory it may use,
a GPU allocated to the job that this torch cannot use, and ``estimate=true``'s memory and time estimate.

Each run shows ``resources: device=... dtype=... threads=...`` under its config line; the same dict goes into
its ``summary.json`` and ``run_info.json`` and into the Parquet provenance of its tables (``report.files``).
A cluster that gives a job a GPU says so in the environment (``CUDA_VISIBLE_DEVICES``, ``SLURM_JOB_GPUS``); a
CPU-only torch (what ``make install`` gives on a login node) would then quietly compute on the CPU, so a run
says, in one line, that the GPU it was given is not used.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Mapping
from typing import Any

# Variables through which a scheduler hands a job its GPUs (SLURM sets the first three, PBS/LSF the others).
GPU_VARIABLES = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS", "GPU_DEVICE_ORDINAL")
NO_GPU_VALUES = ("", "-1", "none", "nodevfiles", "void")


def allocated_gpus(environ: Mapping[str, str] | None = None) -> str | None:
    """``CUDA_VISIBLE_DEVICES=0 SLURM_JOB_GPUS=0``: the variables that allocate a GPU; None when none does."""
    environ = os.environ if environ is None else environ
    found = [
        f"{k}={environ[k]}" for k in GPU_VARIABLES if environ.get(k, "").strip().lower() not in NO_GPU_VALUES
    ]
    return " ".join(found) or None


def gpu_warning(device_spec: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """One loud line when a GPU is allocated but torch has no CUDA (and the run did not ask for the CPU)."""
    allocated = allocated_gpus(environ)
    if allocated is None or str(device_spec).strip().lower() == "cpu":
        return None
    import torch

    if torch.cuda.is_available():
        return None
    why = "is a CPU-only build" if torch.version.cuda is None else "finds no CUDA device (driver?)"
    return (
        f"WARNING: a GPU is allocated ({allocated}) but torch {torch.__version__} {why}: this run uses the CPU; "
        "install a CUDA build of torch (pytorch.org/get-started), or set device=cpu to silence this"
    )


def set_threads(threads: int | None) -> None:
    """``threads=N``: torch's intra-op CPU threads for this run (null: torch's default, OMP_NUM_THREADS)."""
    if threads is None:
        return
    import torch

    if torch.get_num_threads() != int(threads):
        torch.set_num_threads(int(threads))


def describe(cfg: Any) -> dict[str, Any]:
    """The run's device (resolved: ``auto`` becomes ``cuda:0`` or ``cpu``), its name, dtype and CPU threads."""
    import torch

    from hopfield_cli.core.device import resolve_device

    spec = getattr(cfg, "device", None)
    try:
        device = resolve_device(spec) if spec is not None else torch.device("cpu")
    except ValueError:
        device = torch.device("cpu")
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        device = torch.device("cuda", index)
        name = torch.cuda.get_device_name(device)
    else:
        name = platform.processor() or platform.machine()
    return {
        "device": str(device),
        "device_name": name,
        "dtype": getattr(cfg, "dtype", None) or "float32",
        "threads": torch.get_num_threads(),
        "gpu_allocated": allocated_gpus(),
    }


def line(info: Mapping[str, Any]) -> str:
    return f"resources: device={info['device']} ({info['device_name']}) dtype={info['dtype']} threads={info['threads']}"


def device_memory(device_spec: str | None) -> tuple[int, str]:
    """(bytes the run may use, what limits it) on the chosen device: a GPU's free memory, else the CPU's."""
    from hopfield_cli.core.budget import cpu_memory

    if device_spec is None or str(device_spec).strip().lower() == "cpu":
        return cpu_memory()
    import torch

    from hopfield_cli.core.device import resolve_device

    try:
        device = resolve_device(device_spec)
    except ValueError:
        return cpu_memory()
    if device.type != "cuda":
        return cpu_memory()
    free, _total = torch.cuda.mem_get_info(device)
    return int(free), f"free memory of {device} ({torch.cuda.get_device_name(device)})"


# --- estimate=true: the memory and time of a run, without running it ------------------------------------------

GIB = 1024**3
STEPS_GUESS = 3  # update steps a typical query takes (retrieve: 2.6 on average at N = 10^5, beta = 8)


def multiply_adds_per_second(device_spec: str | None) -> float:
    """Measured on this machine now: a (512 x 64) @ (64 x 8192) product, best of three (~50 ms)."""
    import torch

    from hopfield_cli.core.device import resolve_device

    try:
        device = resolve_device(device_spec or "auto")
    except ValueError:
        device = torch.device("cpu")
    a, b = torch.randn(512, 64, device=device), torch.randn(64, 8192, device=device)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        (a @ b).sum().item()
        best = min(best, time.perf_counter() - started)
    return 512 * 64 * 8192 / max(best, 1e-9)


def work(command: str, cfg: Any) -> float | None:
    """Multiply-adds of a run, roughly (None where there is no model of it): retrieve and metastable-scan cost
    two passes over the N x d patterns per query and update step (Eq. 3: X^T xi, then X p), store the
    separation's rows against all N patterns."""
    from hopfield_cli.experiments.footprint import generated

    if command not in ("retrieve", "store", "metastable-scan") or not generated(cfg):
        return None
    n, d = int(cfg.num_patterns), int(cfg.dim)
    if command == "store":
        from hopfield_cli.experiments.beta_scales import sample_rows

        return float(n) * d * sample_rows(n)
    if command == "retrieve":
        b = int(cfg.num_queries) if cfg.num_queries is not None else min(n, 1000)
        return 2.0 * n * d * b * (STEPS_GUESS + 1)  # + 1: the nearest-pattern search
    return 2.0 * n * d * int(cfg.num_queries) * int(cfg.num_betas) * STEPS_GUESS * 4  # near the transitions


def estimate_lines(command: str, cfg: Any, terms: list[Any]) -> list[str]:
    """What ``estimate=true`` prints: the memory (by array) against the device's, the work and time."""
    lines = []
    if terms:
        need = sum(t.bytes for t in terms)
        available, limit = device_memory(getattr(cfg, "device", None))
        fits = "fits" if need <= available else "does NOT fit"
        lines.append(f"memory: about {need / GIB:,.3g} GiB; {fits} in {available / GIB:,.3g} GiB ({limit})")
        for t in sorted(terms, key=lambda t: -t.bytes)[:5]:
            lines.append(f"  {t.bytes / GIB:10,.3g} GiB  {t.what} ({t.field})")
    macs = work(command, cfg)
    if macs is None:
        lines.append(f"time: no estimate for `hopfield {command}` (it depends on the data; try a small run)")
    else:
        rate = multiply_adds_per_second(getattr(cfg, "device", None))
        seconds = macs / rate
        lines.append(
            f"time: about {_duration(seconds)} ({macs:.3g} multiply-adds at {rate:.3g}/s measured now; "
            "within a factor of 3: steps and load vary)"
        )
    return lines


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2g} s"
    if seconds < 3600:
        return f"{seconds / 60:.2g} min"
    return f"{seconds / 3600:.3g} h"
