"""Before any work: compose a command's config with Hydra's loader, check it once (keys, values, files, device,
memory), and turn every fault into one line naming the field."""
