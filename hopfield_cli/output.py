"""Writing results: atomic files (temp file + rename), tidy tables, run metadata, Rich summaries."""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

console = Console(stderr=False)


def atomic_write(path: Path | str, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; results get the usual permissions
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path | str, text: str) -> Path:
    def _write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, _write)


def write_json(path: Path | str, data: Any) -> Path:
    """Strict JSON: NaN and +-inf (a separation with one pattern, a bound that does not apply) become null."""
    return write_text(
        path, json.dumps(_finite(data), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    )


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return _finite(value.item())
    return value


def write_table(df: pd.DataFrame, run_dir: Path | str, stem: str = "results") -> tuple[Path, Path]:
    """Write ``df`` as ``<stem>.parquet`` and ``<stem>.csv`` in ``run_dir``, each atomically."""
    run_dir = Path(run_dir)
    parquet = atomic_write(run_dir / f"{stem}.parquet", lambda tmp: df.to_parquet(tmp, index=False))
    csv = atomic_write(run_dir / f"{stem}.csv", lambda tmp: df.to_csv(tmp, index=False))
    return parquet, csv


def versions() -> dict[str, str]:
    """Versions of the packages that decide results."""
    import numpy
    import omegaconf
    import torch

    import hopfield_cli

    return {
        "hopfield_cli": hopfield_cli.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "omegaconf": omegaconf.__version__,
    }


def device_description(device: Any) -> str:
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def write_run_info(run_dir: Path | str, command: str, seed: int, device: Any, **extra: Any) -> Path:
    """Save what reproduces a run beside its results: seed, versions, device, command line, host."""
    info = {
        "command": command,
        "argv": sys.argv,
        "seed": seed,
        "device": device_description(device),
        "versions": versions(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    info.update(extra)
    return write_json(Path(run_dir) / "run_info.json", info)


def key_value_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for key, value in rows:
        table.add_row(key, format_value(value))
    return table


def format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f"{value:.4g}"
        return f"{value:.3e}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
