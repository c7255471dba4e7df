"""The memory estimate covers every subcommand, family and input path, checked against measured peaks.

Each case runs the installed `hopfield` in its own process on a mid-sized input and reads that process's peak
resident memory from ``os.wait4`` (``ru_maxrss``: exact, no sampling). The run's own memory is that peak minus
the peak of a tiny run of the same command (the interpreter, torch, Hydra). The estimate is what the shell
checks before a run (``app.commands.Command.footprint``: each experiment's ``footprint(cfg)``, input sizes from the
files' headers); it must not be under the measured memory by more than 25%. memory_budget is set where the
modern network runs, so its score block does not depend on the memory free at the time.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import compose, hopfield_command

MIB = 1 << 20
UNDER = 0.75  # the estimate may be at most 25% under the measured peak
CONFIG = {
    "store": "store",
    "retrieve": "retrieve",
    "capacity-sweep": "capacity_sweep",
    "metastable-scan": "metastable_scan",
    "attention-heads": "attention_heads",
}
BUDGET = "memory_budget=64MiB"
PLOTS = {command: ["plots=false"] for command in ("capacity-sweep", "metastable-scan", "attention-heads")}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A memory file, a float64 .npy and a .safetensors pattern file, images, queries and attention."""
    from safetensors.torch import save_file

    from hopfield_cli.data.memory_file import save_memory

    root = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(0)
    signs = torch.from_numpy(rng.choice([-1.0, 1.0], (50_000, 128)).astype(np.float32))
    save_memory(root / "memory.safetensors", signs, {})
    np.save(root / "wide.npy", signs.double().numpy())
    save_file({"patterns": signs}, str(root / "narrow.safetensors"))
    np.save(root / "queries.npy", signs[:1000].numpy())
    (root / "images").mkdir()
    for i in range(400):
        Image.fromarray(rng.integers(0, 256, (128, 128), dtype=np.uint8)).save(
            root / "images" / f"{i:03d}.png"
        )
    probs = rng.random((2, 8, 1024, 1024), dtype=np.float32)
    np.save(root / "attention.npy", probs / probs.sum(-1, keepdims=True))
    np.save(root / "attention_tiny.npy", np.full((1, 1, 4, 4), 0.25, np.float32))
    return {p.stem: p for p in root.iterdir()}


TINY = {
    "store": ["num_patterns=8", "dim=8"],
    "retrieve": ["num_patterns=8", "dim=8", "num_queries=4", "update_steps_max=2"],
    "capacity-sweep": ["dims=[8]", "n_start=8", "n_max=8", "trials=1", "num_queries=4", "refine_steps=0"],
    "metastable-scan": ["num_patterns=8", "dim=8", "num_queries=4", "num_betas=2", "update_steps_max=2"],
}
SWEEP = [
    "n_start=20000",
    "n_max=20000",
    "trials=1",
    "num_queries=1000",
    "refine_steps=0",
    "update_steps_max=1",
]


def cases(f: dict[str, Path]) -> list[tuple[str, list[str]]]:
    """(command, overrides): every command, every family, every input path, mid-sized."""
    return [
        ("store", ["num_patterns=100000", "dim=128"]),
        ("store", ["patterns=sphere", "num_patterns=100000", "dim=128"]),
        ("store", ["patterns=file", f"patterns.path={f['wide']}", "normalise=standard"]),
        ("store", ["patterns=images", f"patterns.path={f['images']}", "patterns.side=128"]),
        ("retrieve", ["num_patterns=50000", "dim=128", "num_queries=1000", "update_steps_max=2", BUDGET]),
        (
            "retrieve",
            ["model=classical", "num_patterns=20000", "dim=8", "num_queries=1000", "update_steps_max=1"],
        ),
        (
            "retrieve",
            ["model=classical", "num_patterns=4000", "dim=2000", "num_queries=200", "update_steps_max=1"],
        ),
        (
            "retrieve",
            ["model=dense", "num_patterns=20000", "dim=8", "num_queries=1000", "update_steps_max=1"],
        ),
        (
            "retrieve",
            ["model=exponential", "num_patterns=20000", "dim=8", "num_queries=1000", "update_steps_max=1"],
        ),
        (
            "retrieve",
            ["model=sparse", "num_patterns=20000", "dim=8", "num_queries=1000", "update_steps_max=2"],
        ),
        ("retrieve", [f"memory={f['memory']}", "num_queries=1000", "update_steps_max=2", BUDGET]),
        (
            "retrieve",
            ["patterns=file", f"patterns.path={f['wide']}", "num_queries=1000", "update_steps_max=2", BUDGET],
        ),
        (
            "retrieve",
            ["patterns=file", f"patterns.path={f['narrow']}", f"queries_file={f['queries']}", BUDGET],
        ),
        (
            "retrieve",
            [
                "patterns=images",
                f"patterns.path={f['images']}",
                "patterns.side=128",
                "corruption=mask_lower_half",
                "num_queries=200",
                BUDGET,
            ],
        ),
        ("capacity-sweep", ["models=[modern]", "dims=[128]", *SWEEP, BUDGET]),
        ("capacity-sweep", ["models=[dense,exponential]", "dims=[8]", *SWEEP]),
        ("capacity-sweep", ["models=[sparse,classical]", "dims=[8]", *SWEEP]),
        ("capacity-sweep", ["models=[modern]", f"memory={f['memory']}", *SWEEP, BUDGET]),
        (
            "metastable-scan",
            [
                "num_patterns=20000",
                "dim=128",
                "num_queries=1000",
                "num_betas=2",
                "update_steps_max=5",
                BUDGET,
            ],
        ),
        (
            "metastable-scan",
            [f"memory={f['memory']}", "num_queries=1000", "num_betas=2", "update_steps_max=5", BUDGET],
        ),
        ("attention-heads", [f"attention={f['attention']}"]),
    ]


def peak_bytes(command: str, args: list[str], folder: Path) -> int:
    """Peak resident memory of one `hopfield` process (ru_maxrss of exactly that child)."""
    folder.mkdir(parents=True)
    env = dict(os.environ, PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="1")
    with open(folder / "output.txt", "w") as out:
        proc = subprocess.Popen(
            [*hopfield_command(), command, *args, *PLOTS.get(command, []), f"hydra.run.dir={folder / 'run'}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=folder,
            env=env,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, (command, args, (folder / "output.txt").read_text()[-3000:])
    return usage.ru_maxrss * 1024


def estimate_bytes(command: str, args: list[str]) -> int:
    from hopfield_cli.app.commands import COMMANDS

    return sum(term.bytes for term in COMMANDS[command].footprint(compose(CONFIG[command], *args)))


@pytest.mark.slow
@pytest.mark.e2e
def test_estimate_is_never_far_under_the_measured_peak(tmp_path, inputs):
    baseline = {
        command: peak_bytes(
            command,
            TINY.get(command, [f"attention={inputs['attention_tiny']}"]),
            tmp_path / f"tiny-{command}",
        )
        for command in CONFIG
    }
    rows, under = [], []
    for i, (command, args) in enumerate(cases(inputs)):
        used = peak_bytes(command, args, tmp_path / str(i)) - baseline[command]
        estimate = estimate_bytes(command, args)
        line = f"{command} {' '.join(a.rsplit('/', 1)[-1] for a in args)}: used {used / MIB:.0f} MiB, "
        line += f"estimate {estimate / MIB:.0f} MiB ({estimate / max(used, 1):.2f}x)"
        rows.append(line)
        if estimate < UNDER * used:
            under.append(line)
    assert not under, "estimates under the measured peak by more than 25%:\n" + "\n".join(under + ["", *rows])
