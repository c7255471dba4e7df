"""`hopfield train`: one training loop (``loop``) over a task (``tasks``) and a layer (``models``).

``run`` is the command's entry point: it builds the task's data and the model from the typed config, trains
epoch by epoch (each finished epoch a resumable cell with its checkpoint), and writes the per-epoch table, the
summary, the learning curve and the model (safetensors).
"""
