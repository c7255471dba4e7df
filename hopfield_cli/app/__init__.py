"""The Hydra shell: compose and check a command's config, run its experiment, merge multiruns.

Nothing below this package imports it. ``launch`` is the entry the CLI calls; ``tasks`` holds the functions
Hydra runs (importable at module level, so launchers can pickle them); ``commands`` is the table of commands.
"""
