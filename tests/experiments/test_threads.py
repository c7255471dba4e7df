"""Threads per problem size (issue 11): one CPU thread for small cells, every thread for large ones, restored."""

import torch

from hopfield_cli.experiments.threads import SMALL_WORK, problem_threads


def test_small_problems_run_on_one_thread_and_the_count_is_restored():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with problem_threads(torch.device("cpu"), SMALL_WORK - 1):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with problem_threads(torch.device("cpu"), SMALL_WORK):
            assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
