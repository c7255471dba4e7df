"""Checks of a valid config that need the file system, torch or the free memory, before any work.

``config.check_values`` has already checked types, ranges and choices. Here: input files and folders exist and
are readable, outputs can be created, a resume folder is one of this command's, the device exists and takes
the dtype, and the run's memory footprint (each experiment's ``footprint``, beside the code it estimates)
fits in the free memory.
"""

from __future__ import annotations

import os
from typing import Any

from hopfield_cli.config import check_values
from hopfield_cli.errors import CapacityError, UsageError

GIB = 1024**3


def existing(path: Any, field: str, kind: str = "file") -> None:
    """``path`` names a readable file (or folder)."""
    path = os.path.expanduser(str(path))
    if not os.path.exists(path):
        raise UsageError(field, f"{kind} not found: {path}")
    if kind == "file" and os.path.isdir(path):
        raise UsageError(field, f"expected a file, got a directory: {path}")
    if kind == "folder" and not os.path.isdir(path):
        raise UsageError(field, f"expected a folder of images, got a file: {path}")
    if not os.access(path, os.R_OK):
        raise UsageError(field, f"{kind} is not readable (permission denied): {path}")


def name_lengths(target: str, field: str) -> None:
    """Each folder or file name of ``target`` fits the file system (255 bytes on most), and so does the whole."""
    try:
        most = os.pathconf("/", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        most = 255
    for name in target.split(os.sep):
        size = len(os.fsencode(name))
        if size > most:
            raise UsageError(
                field,
                f"the name '{name[:40]}...' is {size:,} bytes long; a file system allows at most {most}",
            )
    if len(os.fsencode(target)) >= 4096:
        raise UsageError(
            field, f"the path is {len(os.fsencode(target)):,} bytes long; at most 4,095 are allowed"
        )


def creatable(path: Any, field: str, kind: str = "folder") -> None:
    """``path`` exists as a writable ``kind`` or can be created under a writable folder."""
    target = os.path.abspath(os.path.expanduser(str(path)))
    name_lengths(target, field)
    if os.path.exists(target):
        if kind == "folder" and not os.path.isdir(target):
            raise UsageError(field, f"cannot create the folder {target}: a file of that name exists")
        if kind == "file" and os.path.isdir(target):
            raise UsageError(field, f"{target} is a directory; expected a file name")
        if kind == "file" and not os.path.isfile(target):  # replacing /dev/null or a FIFO would destroy it
            raise UsageError(field, f"{target} is a device, FIFO or socket, not a regular file")
        check = target if kind == "folder" else os.path.dirname(target)
        if not os.access(check, os.W_OK):
            raise UsageError(field, f"{check} is not writable (permission denied)")
        return
    ancestor = os.path.dirname(target)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UsageError(field, f"cannot create {target}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(field, f"cannot create {target}: {ancestor} is not writable (permission denied)")


MEMORY_SUFFIX = ".safetensors"


def memory_out(out: str) -> None:
    """``out=`` names the memory file: a file name (not a folder) ending in .safetensors, what it holds."""
    path = os.path.expanduser(out)
    if out.endswith(("/", os.sep)) or os.path.basename(path) in ("", ".", ".."):
        raise UsageError(
            "out",
            f"'{out}' names a folder; give the file's name, e.g. out={out.rstrip('/')}/memory.safetensors",
        )
    if os.path.isdir(path) or os.path.exists(path) and not os.path.isfile(path):
        return  # said by ``creatable``: a directory, a device, FIFO or socket
    if not path.endswith(MEMORY_SUFFIX):
        stem = os.path.splitext(out)[0] if os.path.splitext(out)[1] else out
        raise UsageError(
            "out",
            f"the memory is a safetensors file: the name must end in {MEMORY_SUFFIX}, got '{out}' "
            f"(e.g. out={stem}{MEMORY_SUFFIX})",
        )


def check_inputs(command: str, cfg: Any) -> None:
    """Input files/folders named by the config exist; outputs and resume folders are usable."""
    from hopfield_cli.experiments.resume import resume_folder

    if getattr(cfg, "memory", None) is not None:
        existing(cfg.memory, "memory")
    elif hasattr(cfg, "patterns") and cfg.patterns.name in ("file", "images"):
        if cfg.patterns.path is None:
            raise UsageError("patterns.path", f"is required for patterns={cfg.patterns.name}")
        existing(cfg.patterns.path, "patterns.path", "file" if cfg.patterns.name == "file" else "folder")
    for name in ("queries_file", "targets_file", "attention"):
        if getattr(cfg, name, None) is not None:
            existing(getattr(cfg, name), name)
    if command == "attention-heads" and cfg.attention is None and cfg.pretrained is None:
        raise UsageError(
            "attention",
            "is required: attention=FILE (.safetensors, .npy or .pt), or pretrained=minilm|FOLDER",
        )
    if getattr(cfg, "out", None):
        memory_out(str(cfg.out))
        creatable(cfg.out, "out", kind="file")
    if getattr(cfg, "resume", None) is not None:
        resume_folder(cfg.resume)


def check_device(cfg: Any) -> None:
    """The device exists and the dtype, where the command has one, may run on it (half precisions are CUDA
    only)."""
    from hopfield_cli.core.device import resolve_device, resolve_dtype

    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:
        raise UsageError("device", str(exc)) from None
    if getattr(cfg, "dtype", None) is None:
        return
    try:
        resolve_dtype(cfg.dtype, device)
    except ValueError as exc:
        raise UsageError("dtype", str(exc)) from None


def check_budget(cfg: Any, num_patterns: int) -> None:
    """A memory_budget too small for even one score block of the modern network."""
    from hopfield_cli.core.budget import plan_chunks
    from hopfield_cli.core.errors import CoreError

    budget = getattr(cfg, "budget_bytes", None)
    if budget is None:
        return
    try:
        plan_chunks(max(num_patterns, 1), 1, memory_budget=budget)
    except CoreError as exc:
        raise CapacityError("memory_budget", exc.message) from None


def check_footprint(command: Any, cfg: Any) -> None:
    """The footprint of a run of ``command`` (an ``app.commands.Command``) against the memory of its device (a
    GPU's free memory on CUDA); not refused with ``estimate=true``, which prints the estimate instead."""
    if getattr(cfg, "estimate", False):
        return
    check_memory(command.footprint(cfg), device=getattr(cfg, "device", None))


def check_memory(terms: list[Any], available: int | None = None, device: str | None = None) -> None:
    """Refuse a run whose footprint exceeds the free memory of ``device`` (None: the CPU's), naming the field
    of its largest array."""
    if not terms:
        return
    limit = "free memory"
    if available is None:
        from hopfield_cli.app.check.resources import device_memory

        available, limit = device_memory(device)
    need = sum(t.bytes for t in terms)
    if need <= available:
        return
    top = max(terms, key=lambda t: t.bytes)
    by = "" if limit == "free memory" else f" (the limit of {limit})"
    raise CapacityError(
        top.field,
        f"this run needs about {need / GIB:,.3g} GiB of memory ({top.what}: {top.bytes / GIB:,.3g} GiB) "
        f"but {available / GIB:,.3g} GiB is available{by}; lower {top.field}",
    )


def largest_n(command: str, cfg: Any) -> int:
    """The most patterns one modern-network score block of this run must hold (1 when read from a file)."""
    from hopfield_cli.core.models import family
    from hopfield_cli.experiments.footprint import generated

    def planned(name: str) -> bool:  # score blocks planned from memory_budget (the modern network's)
        return family(name).working_memory is None

    if not generated(cfg) or command == "store":
        return 1
    if command == "capacity-sweep":
        from hopfield_cli.experiments.capacity_sweep.schedule import n_limit

        return n_limit(cfg) if any(planned(m) for m in cfg.models) else 1
    if command == "retrieve" and not planned(cfg.model.name):
        return 1
    return cfg.num_patterns


def check_families(command: str, cfg: Any) -> None:
    """Family settings whose numbers no float64 holds, refused before any work: each family in use is built at
    the run's smallest beta (its own constructor refuses what it cannot take, e.g. the exponential family below
    ``exponential.MIN_BETA``), and z^n of the dense family beyond ``dense.order_overflow`` (for generated
    patterns; a file's size is checked by the core when it is read)."""
    from hopfield_cli.core.dense import order_overflow
    from hopfield_cli.experiments.families import has_beta, make_model
    from hopfield_cli.experiments.footprint import generated

    if command == "retrieve":
        families = {cfg.model.name: (cfg.model, "model")}
        betas, beta_field, n, dims = [cfg.beta], "beta", cfg.num_patterns, [cfg.dim]
    elif command == "capacity-sweep":
        families = {m: (getattr(cfg.families, m), f"families.{m}") for m in cfg.models}
        betas, beta_field = (cfg.betas, "betas") if cfg.betas else ([cfg.beta], "beta")
        from hopfield_cli.experiments.capacity_sweep.schedule import n_limit

        n, dims = n_limit(cfg), cfg.dims or [cfg.dim]
    else:
        return
    for name, (family, prefix) in families.items():
        try:
            make_model(family, float(min(betas)) if has_beta(name) else None, 0, None, prefix)
        except UsageError as error:
            if error.field != "beta":
                raise
            raise UsageError(beta_field, error.message) from None
    if "dense" in families and generated(cfg):
        family, prefix = families["dense"]
        problem = order_overflow(int(family.n), int(n), max(int(d) for d in dims))
        if problem is not None:
            raise UsageError(f"{prefix}.n", problem)


def check_resources(command: Any, cfg: Any) -> None:
    """The checks an ``app.commands.Command`` names (``Command.checks``), in order: its families' numeric
    ranges, its device and dtype, ``memory_budget`` against its largest score block, its memory footprint."""
    for check in command.checks:
        if check == "families":
            check_families(command.name, cfg)
        elif check == "device":
            check_device(cfg)
        elif check == "budget":
            check_budget(cfg, largest_n(command.name, cfg))
        elif check == "footprint":
            check_footprint(command, cfg)
        else:
            raise ValueError(f"{command.name}: unknown check {check!r}")


def check_typed(command: Any, typed: Any) -> None:
    """Every check of a typed config, in order: the fields' ranges and relations (``config.check_values``),
    then the input files and outputs, then device, families and memory. The one sequence for a user's run
    (``preflight.checked``) and for reproduce's sub-runs (``app.run.reproduce``)."""
    check_values(typed)
    check_inputs(command.name, typed)
    check_resources(command, typed)
