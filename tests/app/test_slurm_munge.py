"""scripts/slurm_cluster.sh repairs munge after someone ran munged as root (issue 26).

munged run as root needs its key, log, seed and directories to be root's; run as munge afterwards (as the
script and Debian's service run it) it refuses each of them in turn ("Failed to find keyfile ... Permission
denied", "Logfile is insecure"). The test does exactly that to the local cluster: stops munged, gives every
munge path to root, starts munged as root and kills it (leaving its socket, lock and pid files), then runs
`up`, which must give everything back to munge, start munged as munge and leave a cluster on which `srun`
works. Whatever happens, the cluster is brought up again at the end, so the other slurm tests find it healthy.
Waits poll with deadlines; nothing sleeps a fixed time.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "slurm_cluster.sh"
MUNGE_DIRS = [Path("/etc/munge"), Path("/var/log/munge"), Path("/var/lib/munge"), Path("/run/munge")]
PIDFILE = Path("/run/munge/munged.pid")


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=600)


def munge_works() -> bool:
    encoded = subprocess.run(["munge", "-n"], capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    if encoded.returncode != 0:
        return False
    return subprocess.run(["unmunge"], input=encoded.stdout, capture_output=True, timeout=30).returncode == 0


def munged_pid() -> int | None:
    """The pid of the live munged its pid file names, or None."""
    try:
        pid = int(PIDFILE.read_text().strip())
        if Path(f"/proc/{pid}/comm").read_text().strip() != "munged":
            return None
        state = next(
            x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("State:")
        )
    except (OSError, ValueError, StopIteration):
        return None
    return None if state.split()[1] in ("Z", "X") else pid


def stop_munged(sig: int) -> None:
    """Signal the live munged and wait (polling, 10 s at most) until it is gone (a zombie counts as gone)."""
    pid = munged_pid()
    if pid is None:
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + 10
    while munged_pid() == pid:
        assert time.monotonic() < deadline, f"munged ({pid}) did not stop"
        time.sleep(0.05)


def owners() -> dict[str, str]:
    """The owner of every munge directory and of each file in it."""
    found = {}
    for folder in MUNGE_DIRS:
        for path in [folder, *sorted(folder.iterdir())]:
            found[str(path)] = pwd.getpwuid(path.lstat().st_uid).pw_name
    return found


@pytest.mark.slurm
@pytest.mark.slow
def test_up_repairs_munge_left_to_root_and_srun_works():
    check = script("check")
    if check.returncode != 0:
        pytest.skip(check.stderr.strip() or f"{SCRIPT.name} check failed")
    try:
        first = script("up")
        assert first.returncode == 0, first.stderr
        # Someone runs munged as root: stop ours, give root every munge path, start munged as root, kill it.
        stop_munged(signal.SIGTERM)
        for folder in MUNGE_DIRS:
            subprocess.run(["chown", "-R", "root:root", str(folder)], check=True, timeout=30)
        subprocess.run(["munged"], check=True, timeout=30)  # daemonises; as root it accepts root's files
        assert munged_pid() is not None and munge_works()
        stop_munged(signal.SIGKILL)  # killed: its socket, lock and pid file stay behind, root's
        assert not munge_works()
        assert "root" in owners().values()

        repaired = script("up")
        assert repaired.returncode == 0, repaired.stderr
        assert "belongs to root, not munge" in repaired.stderr
        assert set(owners().values()) == {"munge"}, owners()
        pid = munged_pid()
        assert pid is not None and pwd.getpwuid(os.stat(f"/proc/{pid}").st_uid).pw_name == "munge"
        assert munge_works()
        ran = subprocess.run(
            ["srun", "-p", "debug", "-N1", "-n1", "--mem=100M", "hostname"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.strip() == socket.gethostname()  # the job ran on this node
        assert script("status").returncode == 0
    finally:  # leave the cluster up for the other slurm tests, whatever failed above
        if munged_pid() is None:
            for folder in MUNGE_DIRS:
                subprocess.run(["chown", "-R", "munge:munge", str(folder)], timeout=30)
        script("up")
