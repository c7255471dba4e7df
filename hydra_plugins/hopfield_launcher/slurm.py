"""``hydra/launcher=slurm``: hydra-submitit-launcher's SlurmLauncher, following its job array with squeue.

Hydra instantiates launchers only from the ``hydra_plugins`` namespace, so this thin subclass lives here; the
work is done by ``hopfield_cli.app.slurm.array.launch_array`` (sbatch's errors as one line, the array's state
while waiting, jobs that end without results reported instead of waited on forever, Ctrl-C says how to
cancel). Each job still runs the plugin's own ``__call__`` on its node. Without the ``cluster`` extra (no
submitit plugin) this module defines nothing, so Hydra's plugin scan stays quiet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    from hydra_plugins.hydra_submitit_launcher import submitit_launcher
except ImportError:  # pip install 'hopfield-cli[cluster]' brings it
    submitit_launcher = None

if submitit_launcher is not None:

    class SlurmLauncher(submitit_launcher.SlurmLauncher):
        """The plugin's SLURM launcher; ``launch`` submits the same array and watches it."""

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
            from hopfield_cli.app.slurm.array import launch_array

            return launch_array(self, [list(o) for o in job_overrides], initial_job_idx)
