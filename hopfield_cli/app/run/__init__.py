"""Running a command: the launch (a run the way Hydra would), the one wrapper around a command's ``run`` (log,
provenance, errors), the run folder, trackers, and reproduce's sub-runs."""
