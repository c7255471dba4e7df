"""One CPU thread for the layers' tests: their tensors are tiny, and on a shared 2-core box two OpenMP threads
mostly wait on each other (measured here: one 2x5x8 layer_norm or softmax took 12 ms with 2 threads under load,
5 us with 1). Restored afterwards."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
