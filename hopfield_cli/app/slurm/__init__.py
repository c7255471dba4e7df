"""SLURM: refuse a request no node can run before submitting (``request``), then submit the job array, follow
it and collect it (``array``)."""
