"""Retrieval in every prefix of the stored patterns at once: Eq. 3 for the memories X[:N_1] c X[:N_2] c ... c
X[:N_K], all from one pass over X[:N_K].

The online softmax reads the patterns in order, so its partial state (m, s, o) after the first N_k patterns is
the softmax of Eq. 3 over the memory of those N_k patterns: a pass that copies its state at each checkpoint
N_k computes the update of every prefix for the price of the largest one. The capacity sweep uses it to
measure the success rate at a whole ladder of N from one pass (``search=ladder``).

Iterating the update: a query's state after one update differs between checkpoints only where a pattern
beyond N_k changed its softmax, so the states of all (checkpoint, query) pairs still moving are deduplicated
(``torch.unique``) and every distinct state makes one more pass over the prefix of its largest checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hopfield_cli.core import streaming, tail_pass
from hopfield_cli.core.online_softmax import Partial


@dataclass
class PrefixRetrieval:
    """States, update counts and convergence of every query in every prefix memory."""

    states: torch.Tensor  # (K, B, d) final states, in the patterns' dtype
    steps: torch.Tensor  # (K, B) int64 updates applied
    converged: torch.Tensor  # (K, B) bool: ||xi_{t+1} - xi_t|| <= eps within update_steps_max
    products: int  # pattern-query products computed (the work)


def prefix_partials(
    patterns: torch.Tensor,
    scaled_queries: torch.Tensor,
    checkpoints: list[int],
    *,
    chunk_rows: int,
    rows_at: list[torch.Tensor],
) -> list[Partial]:
    """The online-softmax partial (m, s, o) of beta X[:N_k]^T xi for every checkpoint N_k (increasing), from
    one pass over X[:N_K] (the sparse-tail pass, continued from checkpoint to checkpoint): at checkpoint k,
    of the query rows ``rows_at[k]``, in that order."""
    out: list[Partial] = []
    state, start = None, 0
    for stop in checkpoints:
        tail = tail_pass.tail_partial(
            patterns,
            scaled_queries,
            chunk_rows=chunk_rows,
            with_states=True,
            may_stop=False,
            start=start,
            stop=stop,
            init=state,
        )
        state, start = tail.partial, stop
        rows = rows_at[len(out)]
        out.append(Partial(state.m[rows], state.s[rows], state.o[rows]))  # copies: the pass goes on in place
    return out


def retrieve_prefixes(
    beta: float,
    patterns: torch.Tensor,  # (N, d) with N >= checkpoints[-1], or a source drawn block by block
    queries: torch.Tensor,  # (B, d)
    checkpoints: list[int],
    *,
    update_steps_max: int,
    eps: float,
) -> PrefixRetrieval:
    """Iterate Eq. 3 in each memory X[:N_k] until ||xi_{t+1} - xi_t|| <= eps or ``update_steps_max`` updates,
    as ``ModernHopfield.retrieve`` does for one memory (without energies; the scores must not overflow the
    accumulation dtype, as on +-1 or unit patterns at any sane beta)."""
    if list(checkpoints) != sorted(set(checkpoints)) or not checkpoints or checkpoints[0] < 1:
        raise ValueError(f"checkpoints must be increasing positive pattern counts, got {checkpoints}")
    if checkpoints[-1] > patterns.shape[0]:
        raise ValueError(f"checkpoint {checkpoints[-1]} beyond the {patterns.shape[0]} patterns")
    k, b = len(checkpoints), queries.shape[0]
    dtype = patterns.dtype
    acc = streaming.acc_dtype(dtype)
    chunk_rows = getattr(patterns, "chunk_rows", patterns.shape[0])
    states = queries.to(device=patterns.device, dtype=dtype)[None].repeat(k, 1, 1)
    steps = torch.zeros(k, b, dtype=torch.int64, device=states.device)
    active = torch.ones(k, b, dtype=torch.bool, device=states.device)
    converged = torch.zeros_like(active)
    products = 0
    for _ in range(update_steps_max):
        pairs = active.nonzero()  # (A, 2): (checkpoint, query)
        if pairs.numel() == 0:
            break
        current = states[pairs[:, 0], pairs[:, 1]]
        distinct, which = torch.unique(current, dim=0, return_inverse=True)
        reach = int(pairs[:, 0].max()) + 1  # no active pair needs the checkpoints beyond
        at = [(pairs[:, 0] == c).nonzero().reshape(-1) for c in range(reach)]  # the pairs of each checkpoint
        parts = prefix_partials(
            patterns,
            distinct.to(acc) * beta,
            checkpoints[:reach],
            chunk_rows=chunk_rows,
            rows_at=[which[i] for i in at],  # each distinct state copied only where a pair reads it
        )
        products += distinct.shape[0] * checkpoints[reach - 1]
        new = torch.empty_like(current)
        for i, p in zip(at, parts, strict=True):
            new[i] = (p.o / p.s[:, None]).to(dtype)
        moved = torch.linalg.vector_norm((new - current).to(acc), dim=1)
        states[pairs[:, 0], pairs[:, 1]] = new
        steps[pairs[:, 0], pairs[:, 1]] += 1
        done = pairs[moved <= eps]
        converged[done[:, 0], done[:, 1]] = True
        active[done[:, 0], done[:, 1]] = False
    return PrefixRetrieval(states, steps, converged, products)
