"""A capacity cell beyond one CPU: each update pass split over the tasks of a SLURM job array (or local processes).

``shards=K`` (K >= 2) cuts the N drawn patterns of a cell into units of ``UNIT_ROWS`` rows (the drawn source's
chunks) and gives task i the units [i U / K, (i + 1) U / K). Each task draws its units from their seeds (the
values of the single process's stream), computes for every query the online softmax of each unit (running
maximum, sum of exponentials, weighted sum: ``streaming.Partial``) and writes them to ``part-<i>.pt``. The driver
folds all units' partials in pattern order (``streaming.fold``, the exact merge) into the pass's new states and
log-sum-exp: the same arithmetic on the same numbers whatever K is, so every K >= 1 gives the same bits (the test
compares K tasks with one process in float64). The update loop, the convergence test and the success test stay
in the driver (``ShardedModern`` is ``ModernHopfield`` with its pass sent to the tasks).

Runners: ``shard_runner=local`` starts K processes here (``python -m hopfield_cli.experiments.capacity_sweep.shards
FOLDER I``); ``shard_runner=slurm`` submits them as one job array (``sbatch --wait --array=0-(K-1)``, partition
``shard_partition``), whose task i reads ``SLURM_ARRAY_TASK_ID``. A pass's folder holds its input
(``pass.pt``: the pattern source's settings, the queries, beta) and the tasks' partials.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from hopfield_cli.core import budget, streaming
from hopfield_cli.core.modern import ModernHopfield
from hopfield_cli.errors import UsageError
from hopfield_cli.experiments.capacity_sweep.bank import DrawnPatterns, PatternBank

UNIT_ROWS = DrawnPatterns.chunk_rows  # rows of one unit: the partials folded in order, whatever K is
MAX_UNITS = 256  # at most this many units a pass (the partials on disk: 256 x B x (d + 2) float64 at most)


def unit_rows(n: int) -> int:
    """Rows of one unit at N = n: ``UNIT_ROWS``, or a multiple of it keeping the units <= ``MAX_UNITS``. A
    function of N alone, so every number of tasks folds the same units."""
    units = -(-n // UNIT_ROWS)
    return UNIT_ROWS * -(-units // MAX_UNITS)


SOURCE_FIELDS = ("patterns", "seed", "n_max", "normalise", "binarise", "dtype")
THREADS_ENV = "HOPFIELD_SHARD_THREADS"  # torch threads of a local task (the driver's cores shared out)


def unit_ranges(n: int, count: int, unit: int = UNIT_ROWS) -> list[tuple[int, int]]:
    """The units [start, stop) of each of ``count`` tasks: contiguous, in pattern order, as even as they go."""
    units = -(-n // unit)
    return [(i * units // count, (i + 1) * units // count) for i in range(count)]


def unit_partials(
    patterns: Any,
    queries: torch.Tensor,
    beta: float,
    start: int,
    stop: int,
    *,
    unit: int = UNIT_ROWS,
    with_states: bool = True,
) -> list[streaming.Partial]:
    """The partial of each unit in [start, stop) of ``patterns`` (N, d) for every query, in order."""
    n = patterns.shape[0]
    memory_budget = budget.resolve_budget(None, torch.device("cpu"))
    plan = budget.plan_chunks(
        min(unit, n), queries.shape[0], dtype=queries.dtype, memory_budget=memory_budget, with_stats=False
    )
    out = []
    for u in range(start, stop):
        rows = patterns[u * unit : min((u + 1) * unit, n)]
        out.append(streaming.range_partial(rows, queries, beta, plan=plan, with_states=with_states))
    return out


def source(spec: dict[str, Any]) -> Any:
    """The drawn patterns a pass reads, rebuilt from their settings (``pass.pt``): the driver's stream."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create(spec["cfg"])
    bank = PatternBank(cfg, int(spec["dim"]), None)
    return bank.drawn(int(spec["trial"]), int(spec["n"])).to(dtype=spec["dtype"])


def run_task(folder: Path, index: int) -> Path:
    """Task ``index`` of a pass: its units' partials to ``part-<index>.pt`` (written whole or not at all)."""
    from hopfield_cli.report.files import atomic_write

    spec = torch.load(folder / "pass.pt", weights_only=False)
    threads = os.environ.get(THREADS_ENV)
    if threads:
        torch.set_num_threads(int(threads))
    unit = int(spec.get("unit_rows", UNIT_ROWS))
    start, stop = unit_ranges(int(spec["n"]), int(spec["count"]), unit)[index]
    patterns = source(spec)
    partials = unit_partials(patterns, spec["queries"], float(spec["beta"]), start, stop, unit=unit)
    return atomic_write(folder / f"part-{index}.pt", lambda tmp: torch.save(partials, tmp))


@dataclass
class Runner:
    """Where a pass's K tasks run: ``local`` processes or a ``slurm`` job array (``sbatch --wait``)."""

    kind: str = "local"
    partition: str | None = None
    threads: int = 1

    def run(self, folder: Path, count: int) -> None:
        if self.kind == "slurm":
            self._slurm(folder, count)
        else:
            self._local(folder, count)

    def _command(self, folder: Path, index: str) -> list[str]:
        return [sys.executable, "-m", "hopfield_cli.experiments.capacity_sweep.shards", str(folder), index]

    def _local(self, folder: Path, count: int) -> None:
        env = {**os.environ, THREADS_ENV: str(max(1, self.threads // count))}
        procs = [
            subprocess.Popen(
                self._command(folder, str(i)),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(folder / f"task-{i}.err", "w"),  # noqa: SIM115 (closed with the process)
            )
            for i in range(count)
        ]
        failed = [i for i, p in enumerate(procs) if p.wait() != 0]
        if failed:
            raise UsageError(
                "shards", f"shard task {failed[0]} failed: {_tail(folder / f'task-{failed[0]}.err')}"
            )

    def _slurm(self, folder: Path, count: int) -> None:
        if shutil.which("sbatch") is None:
            raise UsageError("shard_runner", "slurm needs sbatch on PATH (or shard_runner=local)")
        script = folder / "task.sh"
        script.write_text(
            "#!/bin/bash\n"
            f"export {THREADS_ENV}=${{SLURM_CPUS_PER_TASK:-1}}\n"
            f"exec {' '.join(self._command(folder, '$SLURM_ARRAY_TASK_ID'))}\n"
        )
        args = ["sbatch", "--wait", "--parsable", f"--array=0-{count - 1}", "--job-name=hopfield-shard"]
        args += [f"--output={folder}/task-%a.err", "--cpus-per-task=1", "--ntasks=1"]
        if self.partition:
            args.append(f"--partition={self.partition}")
        done = subprocess.run([*args, str(script)], capture_output=True, text=True)
        missing = [i for i in range(count) if not (folder / f"part-{i}.pt").exists()]
        if done.returncode != 0 or missing:
            first = missing[0] if missing else 0
            why = done.stderr.strip().splitlines()[-1:] or [_tail(folder / f"task-{first}.err")]
            raise UsageError("shards", f"SLURM shard array failed (task {first}): {why[0]}")


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text().splitlines() if line.strip()]
    except OSError:
        return "no output"
    return lines[-1] if lines else "no output"


def sharded_pass(
    spec: dict[str, Any], queries: torch.Tensor, beta: float, count: int, runner: Runner, folder: Path
) -> streaming.PassResult:
    """One pass over the spec's N drawn patterns split over ``count`` tasks, folded in pattern order."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.pt"):
        old.unlink()
    torch.save(
        {**spec, "queries": queries.contiguous(), "beta": float(beta), "count": count}, folder / "pass.pt"
    )
    runner.run(folder, count)
    parts = [p for i in range(count) for p in torch.load(folder / f"part-{i}.pt", weights_only=False)]
    for i in range(count):  # folded: the next pass writes its own
        (folder / f"part-{i}.pt").unlink()
    return streaming.finish(streaming.fold(parts), float(beta), int(spec["n"]), queries.dtype)


@dataclass
class ShardedModern(ModernHopfield):
    """``ModernHopfield`` whose update passes run as ``count`` tasks over ranges of pattern units (``sharded_pass``);
    ``spec`` names the drawn patterns (their settings, d, trial, N, dtype) the tasks draw again."""

    spec: dict[str, Any] = field(default_factory=dict)
    count: int = 2
    runner: Runner = field(default_factory=Runner)
    folder: Path = Path("shards")

    def _pass(self, patterns, states, plan, *, beta, with_states, with_stats, norm_max=None):
        if with_stats or not with_states or not isinstance(patterns, DrawnPatterns) or beta != self.beta:
            # the final statistics pass (not a capacity cell's) and scaled units stay in this process
            return super()._pass(
                patterns,
                states,
                plan,
                beta=beta,
                with_states=with_states,
                with_stats=with_stats,
                norm_max=norm_max,
            )
        return sharded_pass(self.spec, states.to(patterns.dtype), beta, self.count, self.runner, self.folder)


def source_spec(cfg: Any, dim: int, trial: int, n: int, dtype: torch.dtype) -> dict[str, Any]:
    """What a task needs to draw the cell's patterns again: the source's settings, d, trial, N and dtype."""
    from omegaconf import OmegaConf

    from hopfield_cli.experiments.capacity_sweep.schedule import resolved

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return OmegaConf.to_container(OmegaConf.structured(value), resolve=True)
        return OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value

    settings = resolved(cfg)
    return {
        "cfg": {k: plain(getattr(settings, k)) for k in SOURCE_FIELDS},
        "dim": int(dim),
        "trial": int(trial),
        "n": int(n),
        "dtype": dtype,
        "unit_rows": unit_rows(n),
    }


def main(argv: list[str]) -> int:
    folder = Path(argv[0])
    index = int(argv[1]) if len(argv) > 1 and argv[1].isdigit() else int(os.environ["SLURM_ARRAY_TASK_ID"])
    run_task(folder, index)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
