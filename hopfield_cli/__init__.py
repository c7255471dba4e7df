"""hopfield: a command-line experiment runner for modern Hopfield networks (Ramsauer et al., ICLR 2021)."""

__version__ = "0.1.0"
