"""SLURM before submitting: refuse a request that no node of its partition can ever run, in one line.

A job array asking for more than the partition's nodes have (``cpus_per_task: 4`` on 2-CPU nodes, 16 GB on
smaller ones, a GPU where there is none, more nodes or minutes than the partition allows) is accepted by
``sbatch`` and then stays PENDING forever (squeue's reason ``PartitionConfig``, ``PartitionTimeLimit``, ...),
or is refused by ``sbatch`` with a 40-line traceback. ``check_request`` asks ``scontrol``/``sinfo`` what the
partition offers and refuses such a request before anything is queued, naming the ``hydra.launcher.*`` field
and what the partition offers. When SLURM's commands do not answer it says nothing: ``sbatch`` will, and
``submission_error`` turns what it says into one line (``app/slurm_array``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf

from hopfield_cli.errors import UsageError

# A query that takes longer than this is treated as "SLURM does not answer" (the check is then skipped).
QUERY_TIMEOUT_S = 5
FIELD = "hydra.launcher"


@dataclass
class Partition:
    """One partition as ``scontrol show partition`` and ``sinfo -N`` describe it."""

    name: str
    default: bool = False
    total_nodes: int = 0
    max_nodes: int | None = None  # None: UNLIMITED
    max_minutes: int | None = None
    max_cpus_per_node: int | None = None
    max_mem_mb_per_node: int | None = None
    # Per node: (CPUs, RealMemory in MB, GPUs).
    nodes: list[tuple[int, int, int]] = field(default_factory=list)


def is_slurm(cfg: DictConfig) -> bool:
    """Whether the sweep's launcher submits to SLURM (ours or the plugin's own ``submitit_slurm``)."""
    target = str(OmegaConf.select(cfg, "hydra.launcher._target_", default="") or "")
    return target.endswith(".SlurmLauncher")


def run(args: list[str], timeout: float = QUERY_TIMEOUT_S) -> subprocess.CompletedProcess | None:
    """A SLURM command's result, or None when it is missing or does not answer in time."""
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _key_values(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S*)", line))


def _limit(text: str | None) -> int | None:
    return None if not text or not text[0].isdigit() else int(text)


def minutes(text: str | None) -> int | None:
    """SLURM's time limits (``UNLIMITED``, ``30``, ``1:00:00``, ``2-12:00:00``) in minutes; None = no limit."""
    if not text or text.upper() in ("UNLIMITED", "INFINITE", "NONE"):
        return None
    days, _, clock = text.rpartition("-")
    parts = [int(p) for p in clock.split(":")]
    if len(parts) == 1:  # minutes
        hours, mins, secs = 0, parts[0], 0
    elif len(parts) == 2:  # minutes:seconds
        hours, mins, secs = 0, parts[0], parts[1]
    else:
        hours, mins, secs = parts[-3:]
    return (int(days or 0) * 24 + hours) * 60 + mins + (1 if secs else 0)


def gpus(gres: str) -> int:
    """GPUs in a node's ``Gres`` (``gpu:4``, ``gpu:a100:2(S:0-1),shard:8``, ``(null)``)."""
    total = 0
    for item in gres.split(","):
        parts = item.split("(")[0].split(":")
        if parts[0] == "gpu" and len(parts) > 1 and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def partitions() -> dict[str, Partition] | None:
    """Every partition with its limits and its nodes' resources; None when SLURM does not answer."""
    shown = run(["scontrol", "show", "partition", "--oneliner"])
    if shown is None or shown.returncode != 0:
        return None
    found: dict[str, Partition] = {}
    for line in shown.stdout.splitlines():
        kv = _key_values(line)
        if "PartitionName" not in kv:
            continue
        found[kv["PartitionName"]] = Partition(
            name=kv["PartitionName"],
            default=kv.get("Default") == "YES",
            total_nodes=_limit(kv.get("TotalNodes")) or 0,
            max_nodes=_limit(kv.get("MaxNodes")),
            max_minutes=minutes(kv.get("MaxTime")),
            max_cpus_per_node=_limit(kv.get("MaxCPUsPerNode")),
            max_mem_mb_per_node=_limit(kv.get("MaxMemPerNode")),
        )
    nodes = run(["sinfo", "--noheader", "--Node", "--format=%R|%c|%m|%G"])
    if nodes is None or nodes.returncode != 0:
        return None
    for line in nodes.stdout.splitlines():
        name, cpus, mem, gres = (line.split("|") + ["", "", "", ""])[:4]
        if name in found and cpus.rstrip("+").isdigit() and mem.rstrip("+").isdigit():
            found[name].nodes.append((int(cpus.rstrip("+")), int(mem.rstrip("+")), gpus(gres)))
    return found


def _list(found: dict[str, Partition]) -> str:
    return ", ".join(f"{p.name} (default)" if p.default else p.name for p in found.values()) or "none"


def _choose(found: dict[str, Partition], wanted: Any) -> Partition:
    if wanted:
        if str(wanted) not in found:
            raise UsageError(
                f"{FIELD}.partition",
                f"no partition {wanted!r} on this cluster; its partitions: {_list(found)}",
            )
        return found[str(wanted)]
    default = [p for p in found.values() if p.default]
    if not default:
        raise UsageError(
            f"{FIELD}.partition", f"this cluster has no default partition; choose one of: {_list(found)}"
        )
    return default[0]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}s"


def _at_most(limits: list[int | None]) -> int | None:
    known = [v for v in limits if v is not None]
    return min(known) if known else None


def check_fits(launcher: dict[str, Any], part: Partition) -> None:
    """Refuse a request (``hydra.launcher`` values) that no node of ``part`` can ever run."""
    where = f"partition {part.name!r}"
    nodes = int(launcher.get("nodes") or 1)
    max_nodes = _at_most([part.total_nodes, part.max_nodes])
    if max_nodes is not None and nodes > max_nodes:
        raise UsageError(
            f"{FIELD}.nodes", f"{nodes} nodes per job, but {where} has {_count(max_nodes, 'node')}"
        )
    if not part.nodes:
        return
    per_node_cpus = max(c for c, _, _ in part.nodes)
    cpus_offered = _at_most([per_node_cpus, part.max_cpus_per_node])
    cpus = int(launcher.get("cpus_per_task") or 1) * int(launcher.get("tasks_per_node") or 1)
    if cpus_offered is not None and cpus > cpus_offered:
        raise UsageError(
            f"{FIELD}.cpus_per_task",
            f"{cpus} CPUs per job, but the nodes of {where} have at most {cpus_offered}: "
            f"set hydra.launcher.cpus_per_task={cpus_offered} or fewer",
        )
    mem_gb = launcher.get("mem_gb")
    mem_offered = _at_most([max(m for _, m, _ in part.nodes), part.max_mem_mb_per_node])
    if mem_gb and mem_offered is not None and float(mem_gb) * 1024 > mem_offered:
        raise UsageError(
            f"{FIELD}.mem_gb",
            f"{mem_gb} GB per job, but the nodes of {where} have at most {mem_offered / 1024:.1f} GB "
            f"for jobs: set hydra.launcher.mem_gb={int(mem_offered // 1024)} or less",
        )
    wanted_gpus = int(launcher.get("gpus_per_node") or 0)
    gpus_offered = max(g for _, _, g in part.nodes)
    if wanted_gpus > gpus_offered:
        offered = "no GPUs" if gpus_offered == 0 else f"at most {_count(gpus_offered, 'GPU')}"
        others = "" if gpus_offered else " (choose a GPU partition with hydra.launcher.partition=NAME)"
        raise UsageError(
            f"{FIELD}.gpus_per_node",
            f"{_count(wanted_gpus, 'GPU')} per job, but the nodes of {where} have {offered}{others}",
        )
    timeout = launcher.get("timeout_min")
    if timeout and part.max_minutes is not None and int(timeout) > part.max_minutes:
        raise UsageError(
            f"{FIELD}.timeout_min",
            f"{timeout} minutes per job, but {where} allows at most {part.max_minutes}",
        )


def check_request(cfg: DictConfig) -> None:
    """For a SLURM sweep: the plugin and SLURM's commands are there, and the request fits its partition."""
    if not is_slurm(cfg):
        return
    import importlib.util

    from hopfield_cli.app.check.compose import missing_plugin

    if importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None:
        raise missing_plugin("slurm")  # type: ignore[misc]
    missing = [c for c in ("sbatch", "squeue", "srun") if shutil.which(c) is None]
    if missing:
        raise UsageError(
            "hydra/launcher",
            f"slurm submits with SLURM's commands, and {', '.join(missing)} is not on this machine's PATH: "
            "run it on the cluster's login node (try a sweep here with hydra/launcher=submitit_local)",
        )
    found = partitions()
    if found is None:
        return  # SLURM does not answer: sbatch will say why, in one line
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=False)
    check_fits(launcher, _choose(found, launcher.get("partition")))


# sbatch's words -> the field that most likely caused them.
_SBATCH_FIELDS = (
    ("generic resource", "gpus_per_node"),
    ("gres", "gpus_per_node"),
    ("feature", "constraint"),
    ("account", "account"),  # "Invalid account or account/partition combination specified"
    ("partition", "partition"),
    ("qos", "qos"),
    ("time limit", "timeout_min"),
    ("memory", "mem_gb"),
)


def submission_error(text: str) -> UsageError:
    """``sbatch``'s own error output (several lines, repeated prefixes) as one line naming a field."""
    messages: list[str] = []
    for line in str(text).splitlines():
        line = re.sub(r"^(sbatch: )?(error: )?(Batch job submission failed: )?", "", line.strip())
        if line and line not in messages:
            messages.append(line)
    message = "; ".join(messages) or "no message"
    lowered = message.lower()
    key = next((f"{FIELD}.{name}" for words, name in _SBATCH_FIELDS if words in lowered), FIELD)
    return UsageError(key, f"sbatch refused the job array: {message}")
