"""SLURM while a sweep runs: submit the job array, show its state until every job has ended, collect them.

hydra-submitit-launcher submits a sweep as one job array, then waits in submitit's ``job.results()``, which
asks ``sacct`` for the jobs' states. On a cluster without accounting every poll prints three warnings, and a
job that ends without a result file (cancelled, killed, out of memory, past its time) is waited on forever.
``launch_array`` (called by ``hydra_plugins.hopfield_launcher.slurm.SlurmLauncher``) builds and submits
the array exactly as the plugin does, then follows it with ``squeue`` instead:

- one status line (rewritten in place on a terminal, a new line when it changes otherwise):
  ``slurm array 57: 2 running, 3 pending (Resources), 1 done [0:42]``, with squeue's reason for pending jobs;
- a job that has left the running states without a result file is given up on (after a grace time for a
  shared file system when it ended by itself) and merged as ``missing``; its SLURM state is named;
- ``sbatch``'s own errors become one line (``slurm.submission_error``), with nothing queued;
- Ctrl-C (or SIGTERM) leaves the array running and says how to cancel it or merge it later: the jobs write
  their results into the sweep folder whether or not this process waits, so a dropped login session or an
  impatient Ctrl-C must not throw away hours of cluster time (``scancel`` is one command away);
- ``sacct`` is asked once: when accounting is off, one note says so.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from hopfield_cli.app.slurm import request as slurm

log = logging.getLogger(__name__)

# squeue states of a job that has not ended (everything else has: COMPLETED, CANCELLED, FAILED, TIMEOUT, ...).
PENDING = {"PENDING", "REQUEUED", "REQUEUE_FED", "REQUEUE_HOLD", "RESV_DEL_HOLD", "SUSPENDED"}
RUNNING = {"RUNNING", "COMPLETING", "CONFIGURING", "SIGNALING", "STAGE_OUT", "RESIZING", "STOPPED"}
# Ended by itself (or left squeue's memory): its result file may still be on its way over a shared file
# system, so wait this long for it (as submitit does) before reporting the job missing.
SELF_ENDED = {"COMPLETED", "FAILED", "GONE"}
RESULT_GRACE_S = 15.0
FILE_POLL_S = 1.0  # result files are cheap to look at
MAX_QUEUE_POLL_S = 30.0  # squeue: every second at first, then less often (at most every 30 s)


def executor(launcher: Any) -> Any:
    """submitit's SLURM executor with the launcher's parameters, as hydra-submitit-launcher 1.2 builds it."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    params = dict(launcher.params)
    init_keys = {"submitit_folder", "max_num_timeout"}
    found = submitit.AutoExecutor(
        cluster="slurm",
        folder=params["submitit_folder"],
        **{f"slurm_{k}": v for k, v in params.items() if k == "max_num_timeout"},
    )
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    found.update_parameters(
        **{k if k in base else f"slurm_{k}": v for k, v in params.items() if k not in init_keys}
    )
    return found


def submit(found: Any, launcher: Any, job_params: list[tuple]) -> list[Any]:
    """Submit the array; sbatch's refusal becomes one UsageError line (submitit would also print it raw)."""
    from submitit.core.utils import FailedJobError, FailedSubmissionError

    raw = io.StringIO()
    try:
        with contextlib.redirect_stderr(raw):
            return found.map_array(launcher, *zip(*job_params, strict=True))
    except (FailedJobError, FailedSubmissionError) as error:
        raise slurm.submission_error(str(error) or raw.getvalue()) from None


def queue_states(array_id: str) -> dict[str, tuple[str, str]] | None:
    """``{job id: (state, reason)}`` of the array's jobs that SLURM still knows; None if squeue fails."""
    args = ["squeue", "--noheader", "--array", "--states=all", f"--jobs={array_id}", "--format=%i|%T|%r"]
    shown = slurm.run(args, timeout=30)
    if shown is None:
        return None
    if shown.returncode != 0:
        return {} if "invalid job id" in shown.stderr.lower() else None  # forgotten: every job has ended
    states = {}
    for line in shown.stdout.splitlines():
        job_id, state, reason = (line.strip().split("|") + ["", ""])[:3]
        states[job_id] = (state.split()[0] if state else "UNKNOWN", reason)
    return states


def accounting_works(array_id: str) -> bool:
    """Whether sacct answers; if not, one note says that job states come from squeue alone."""
    asked = slurm.run(["sacct", "--noheader", "--allocations", f"--jobs={array_id}", "--format=State"])
    if asked is not None and asked.returncode == 0:
        return True
    why = " ".join((asked.stderr if asked is not None else "sacct not found").split())[:120]
    print(
        f"note: SLURM accounting is not available ({why}): job states come from squeue, "
        "which forgets a job a few minutes after it ends",
        file=sys.stderr,
    )
    return False


def final_state(job_id: str) -> str:
    """A job squeue no longer knows: its state from sacct (where accounting works)."""
    asked = slurm.run(
        ["sacct", "--noheader", "--allocations", "--parsable2", f"--jobs={job_id}", "--format=State"]
    )
    if asked is None or asked.returncode != 0 or not asked.stdout.strip():
        return "GONE"
    return asked.stdout.split()[0]


class StatusLine:
    """One line of status: rewritten in place on a terminal, printed again when it changes otherwise."""

    def __init__(self, stream: Any = None):
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""
        self.started = time.monotonic()

    def show(self, text: str) -> None:
        seconds = int(time.monotonic() - self.started)
        stamped = f"{text} [{seconds // 60}:{seconds % 60:02d}]"
        if self.tty:
            self.stream.write(f"\r\x1b[2K{stamped}")
            self.stream.flush()
        elif text != self.last:
            print(stamped, file=self.stream, flush=True)
        self.last = text

    def close(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()


def describe(
    array_id: str, states: dict[str, tuple[str, str]], done: int, ended: dict[str, tuple[int, str]]
) -> str:
    """``slurm array 57: 2 running, 3 pending (Resources), 1 done``; jobs that ended without results named."""
    running = sum(state in RUNNING for state, _ in states.values())
    reasons = Counter(reason for state, reason in states.values() if state in PENDING)
    parts = [f"{running} running"] if running else []
    if reasons:
        named = [f"{n} {r}" if len(reasons) > 1 else r for r, n in reasons.most_common() if r and r != "None"]
        parts.append(f"{sum(reasons.values())} pending" + (f" ({', '.join(named)})" if named else ""))
    parts.append(f"{done} done")
    if ended:
        jobs = sorted(ended.values())
        named = ", ".join(f"job {num}: {state}" for num, state in jobs[:3]) + (
            ", ..." if len(jobs) > 3 else ""
        )
        parts.append(f"{len(jobs)} ended without results ({named})")
    return f"slurm array {array_id}: {', '.join(parts)}"


def wait_for(jobs: list[Any], numbers: dict[str, int], array_id: str, line: StatusLine) -> None:
    """Until every job has a result file or has ended without one (named in the status line)."""
    waiting = {job.job_id: job for job in jobs}
    ended: dict[str, tuple[int, str]] = {}
    gone_since: dict[str, float] = {}
    states: dict[str, tuple[str, str]] = {}
    accounting = accounting_works(array_id)
    next_queue_poll, unanswered = 0.0, False
    while waiting:
        now = time.monotonic()
        for job_id, job in list(waiting.items()):
            if job.paths.result_pickle.exists():
                del waiting[job_id]
        if waiting and now >= next_queue_poll:
            polled = queue_states(array_id)
            unanswered = polled is None
            for job_id in list(waiting) if polled is not None else []:
                state = polled.get(job_id, ("GONE", ""))[0]
                if state in PENDING or state in RUNNING:
                    gone_since.pop(job_id, None)
                    continue
                if state == "GONE" and accounting:
                    state = final_state(job_id)
                since = gone_since.setdefault(job_id, now)
                if state not in SELF_ENDED or now - since >= RESULT_GRACE_S:
                    ended[job_id] = (numbers[job_id], state)
                    del waiting[job_id]
            states = polled if polled is not None else states
            next_queue_poll = now + min(MAX_QUEUE_POLL_S, max(FILE_POLL_S, (now - line.started) / 20))
        shown = {k: v for k, v in states.items() if k in waiting}
        text = describe(array_id, shown, len(jobs) - len(waiting) - len(ended), ended)
        line.show(text + (" (squeue does not answer)" if unanswered else ""))
        if waiting:
            time.sleep(FILE_POLL_S)


def interrupted_line(array_id: str, done: int, total: int, sweep_dir: Path) -> str:
    return (
        f"interrupted: the SLURM job array {array_id} keeps running ({done} of {total} jobs done): "
        f"cancel it with `scancel {array_id}`, or merge what has finished with `hopfield collect {sweep_dir}`"
    )


def _placeholder(launcher: Any, overrides: list[str]) -> Any:
    """The JobReturn of a job that left no result: the merge reports it (missing, or failed on the node)."""
    from hydra.core.utils import JobReturn, JobStatus

    return JobReturn(
        overrides=overrides,
        hydra_cfg=OmegaConf.masked_copy(launcher.config, "hydra"),
        status=JobStatus.COMPLETED,
        _return_value=None,
    )


def returns(
    launcher: Any, jobs: list[Any], job_overrides: list[list[str]], first: int, sweep_dir: Path
) -> list:
    """Each job's JobReturn, read from its result file; a placeholder for a job that has none."""
    out = []
    for num, (job, overrides) in enumerate(zip(jobs, job_overrides, strict=True), start=first):
        ret = None
        if job.paths.result_pickle.exists():
            try:
                ret = job.results()[0]
            except Exception as error:  # noqa: BLE001 - e.g. the job could not load its config on its node
                last = (str(error).strip().splitlines() or [type(error).__name__])[0]
                log.error("job %d failed on its node: %s; its log: %s", num, last, job.paths.stderr)
        ret = ret or _placeholder(launcher, list(overrides))
        # A copy of the config may still read ${now:...} for the sweep folder, which would resolve to the time
        # it is read: name the folder this sweep really has.
        for node in (ret.hydra_cfg, ret.hydra_cfg.hydra, ret.hydra_cfg.hydra.sweep):
            OmegaConf.set_readonly(node, False)
        ret.hydra_cfg.hydra.sweep.dir = str(sweep_dir)
        out.append(ret)
    return out


def launch_array(launcher: Any, job_overrides: list[list[str]], initial_job_idx: int) -> list[Any]:
    """The sweep's jobs as one SLURM job array: submit, follow, collect (the plugin's ``launch``, watched)."""
    import os

    from hydra.core.singleton import Singleton
    from hydra.core.utils import filter_overrides

    from hopfield_cli.app.run.tasks import terminate_as_interrupt

    config = launcher.config
    found = executor(launcher)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    log.info(f"Submitit 'slurm' sweep output dir : {sweep_dir}")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in config.hydra.sweep:
        os.chmod(sweep_dir, mode=int(str(config.hydra.sweep.mode), 8))
    job_params = []
    for num, overrides in enumerate(job_overrides, start=initial_job_idx):
        log.info(f"\t#{num} : {' '.join(filter_overrides(overrides))}")
        job_params.append(
            (list(overrides), "hydra.sweep.dir", num, f"job_id_for_{num}", Singleton.get_state())
        )
    jobs = submit(found, launcher, job_params)
    array_id = jobs[0].job_id.split("_")[0]
    numbers = {job.job_id: num for num, job in enumerate(jobs, start=initial_job_idx)}
    line = StatusLine()
    try:
        with terminate_as_interrupt():
            wait_for(jobs, numbers, array_id, line)
    except KeyboardInterrupt as stop:
        line.close()
        done = sum(job.paths.result_pickle.exists() for job in jobs)
        print(interrupted_line(array_id, done, len(jobs), sweep_dir), file=sys.stderr)
        signum = stop.args[0] if stop.args and isinstance(stop.args[0], int) else 2
        raise SystemExit(128 + signum) from None
    line.close()
    return returns(launcher, jobs, job_overrides, initial_job_idx, sweep_dir)
