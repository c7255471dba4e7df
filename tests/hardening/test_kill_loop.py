"""Faults: 20 SIGKILLs at random moments of a sweep, each followed by a resume, end with the tables of
an uninterrupted run.

SIGKILL gives a run no chance to clean up: a cell line may be torn, a table or ``sweep.json`` half written into
its temporary file, ``.hydra/`` half written. The kill moments come from a seeded schedule, counted in cells on
disk rather than in seconds (so a loaded machine moves them little): wait until ``cells.jsonl`` holds k more
complete lines (k in 0..2), then a random delay (within a cell, a table rewrite, or the start of the run). On a
machine fast enough to finish a sweep before its next kill, the remaining kills go to a fresh sweep.

A driver process (``drive``, run with ``python -c``) imports hopfield, torch and Hydra once and forks each run
from there, so 20 kills cost 20 runs' work, not 20 interpreter starts with torch imports. It never computes
with torch before forking (a forked child then starts its own thread pools), and every child runs the real
command line (``cli.main``) with its own output in ``driver.log``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO

from .conftest import comparable

KILLS = 20
SWEEPS = {
    # 44 cells of ~50 ms each (most of it rewriting the tables): 12 series, modern at 3 betas x 3 dims and
    # classical at 3 dims.
    "capacity-sweep": (
        [
            "models=[modern,classical]",
            "betas=[1,4,16]",
            "dims=[8,12,16]",
            "n_start=2",
            "n_max=64",
            "growth=2",
            "trials=2",
            "num_queries=8",
            "refine_steps=3",
            "update_steps_max=10",
            "plots=false",
        ],
        ("results", "capacity"),
    ),
    "metastable-scan": (
        [
            "num_patterns=16",
            "dim=8",
            "clusters=2",
            "num_queries=8",
            "num_betas=40",
            "update_steps_max=20",
            "plots=false",
        ],
        ("fixed_points", "betas"),
    ),
}


def _cells(folder: Path) -> int:
    try:
        return (folder / "cells.jsonl").read_bytes().count(b"\n")
    except OSError:
        return 0


def _torn(folder: Path) -> bool:
    try:
        data = (folder / "cells.jsonl").read_bytes()
    except OSError:
        return False
    return bool(data) and not data.endswith(b"\n")


def _child(command: str, args: list[str], log: Path) -> int:
    """Fork a child that runs ``hopfield COMMAND ARGS`` through the console script's entry point."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.argv = ["hopfield", command, *args]
        from hopfield_cli.cli import main

        main()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported through the exit status and the log
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _finish(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def drive(command: str, tmp: str, seed: int = 12, kills: int = KILLS) -> None:
    """Run the kill loop of ``command`` in ``tmp`` (``whole``, ``killed-1``, ...); print a JSON report.

    A run that ends before its kill (a fast machine) finishes that sweep; the next kills go to a fresh one in
    ``killed-2``, and so on: every sweep must end with the uninterrupted table.
    """
    import hydra  # noqa: F401 - warm imports, shared by every forked run
    import pandas  # noqa: F401
    import torch  # noqa: F401

    import hopfield_cli.cli  # noqa: F401
    from hopfield_cli.app.run import (
        tasks,  # noqa: F401
    )
    from hopfield_cli.experiments.capacity_sweep import sweep  # noqa: F401
    from hopfield_cli.experiments.metastable_scan import scan  # noqa: F401

    args, _ = SWEEPS[command]
    tmp_dir = Path(tmp)
    log = tmp_dir / "driver.log"
    report = {"whole": _finish(_child(command, [*args, f"hydra.run.dir={tmp_dir / 'whole'}"], log))}
    rng = random.Random(seed)
    folders = [tmp_dir / "killed-1"]
    delivered, runs, started = 0, 0, time.monotonic()
    at_kill, torn, temporaries, failed = [], 0, 0, []
    while delivered < kills and runs < 4 * kills:
        runs += 1
        folder = folders[-1]
        resume = [f"resume={folder}"] if (folder / "sweep.json").exists() else []
        target = _cells(folder) + rng.choice((0, 1, 1, 2))
        delay = rng.choice((0.0, rng.uniform(0, 0.01), rng.uniform(0, 0.05), rng.uniform(0, 0.15)))
        pid = _child(command, [*args, *resume, f"hydra.run.dir={folder}"], log)
        deadline = time.monotonic() + 120
        ended, status = 0, 0
        while not ended and _cells(folder) < target and time.monotonic() < deadline:
            ended, status = os.waitpid(pid, os.WNOHANG)
            time.sleep(0.001)
        time.sleep(delay)
        if not ended:
            ended, status = os.waitpid(pid, os.WNOHANG)
        if not ended:
            os.kill(pid, signal.SIGKILL)
            _finish(pid)
            delivered += 1
            at_kill.append(_cells(folder))
            torn += _torn(folder)
            temporaries += sum(p.name.endswith(".tmp") for p in folder.iterdir()) if folder.is_dir() else 0
        elif os.waitstatus_to_exitcode(status) != 0:
            failed.append(os.waitstatus_to_exitcode(status))
            break
        else:  # this sweep is complete before its kill: the next kills go to a fresh one
            folders.append(tmp_dir / f"killed-{len(folders) + 1}")
    folder = folders[-1]
    resume = [f"resume={folder}"] if (folder / "sweep.json").exists() else []
    report.update(
        delivered=delivered,
        runs=runs,
        failed=failed,
        folders=[f.name for f in folders],
        cells_at_kill=at_kill,
        torn_lines=torn,
        temporaries_left=temporaries,
        last=_finish(_child(command, [*args, *resume, f"hydra.run.dir={folder}"], log)),
        seconds=round(time.monotonic() - started, 1),
    )
    print(json.dumps(report))


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize("command", list(SWEEPS))
def test_twenty_sigkills_each_resumed_give_the_uninterrupted_tables(tmp_path, command):
    code = f"from tests.hardening.test_kill_loop import drive; drive({command!r}, {str(tmp_path)!r})"
    env = dict(os.environ, COLUMNS="200", PYTHONWARNINGS="ignore")
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
    )
    log = (tmp_path / "driver.log").read_text(errors="replace") if (tmp_path / "driver.log").exists() else ""
    assert proc.returncode == 0, proc.stderr[-3000:] + log[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["whole"] == 0 and report["last"] == 0 and not report["failed"], (report, log[-3000:])
    assert report["delivered"] == KILLS, report
    assert "Traceback" not in log, log[-3000:]

    whole = tmp_path / "whole"
    _, stems = SWEEPS[command]
    for name in report["folders"]:
        killed = tmp_path / name
        for stem in stems:
            pd.testing.assert_frame_equal(
                comparable(pd.read_parquet(killed / f"{stem}.parquet")),
                comparable(pd.read_parquet(whole / f"{stem}.parquet")),
            )
            pd.read_csv(killed / f"{stem}.csv")
        lines = (killed / "cells.jsonl").read_text().splitlines()
        assert len(lines) == len((whole / "cells.jsonl").read_text().splitlines())  # no cell twice, none torn
        for line in lines:
            json.loads(line)
        assert not [p.name for p in killed.iterdir() if p.name.endswith(".tmp")], "a killed run's temporary"
