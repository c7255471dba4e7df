"""Tests of the Hopfield layers (hopfield_cli.nn)."""
