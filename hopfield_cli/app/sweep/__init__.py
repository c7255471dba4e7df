"""Sweeps (multiruns): read a sweep folder's jobs, merge them into one set of tables, and the objective a
hyper-parameter search optimises."""
