"""Memory planning: chunk plans within the budget, the estimate before allocation, one budget per call."""

import pytest
import torch

from hopfield_cli.core import budget
from hopfield_cli.core.errors import BudgetError, CoreError


def test_plan_respects_budget_and_prefers_one_block():
    plan = budget.plan_chunks(10_000, 4096, memory_budget=512 << 20, with_stats=False)
    assert plan.pattern_chunk == 10_000 and plan.query_chunk == 256
    plan = budget.plan_chunks(10_000_000, 1024, memory_budget=256 << 20, with_stats=True)
    assert plan.streams(10_000_000) and plan.block_bytes <= 256 << 20


def test_estimate_raises_budget_error_when_patterns_exceed_ram():
    free = budget.available_memory("cpu")
    n = int(2 * free // (64 * 4))
    with pytest.raises(BudgetError) as info:
        budget.estimate_memory(n, 1024, 64, memory_budget=64 << 20)
    assert info.value.param == "memory_budget" and "GiB" in info.value.message
    est = budget.estimate_memory(10_000, 1024, 64, memory_budget=64 << 20)
    assert est.patterns_bytes == 10_000 * 64 * 4 and est.total_bytes < free


def test_budget_too_small_for_any_block():
    with pytest.raises(BudgetError):
        budget.plan_chunks(1000, 10, memory_budget=1, with_stats=True)


def test_budget_error_is_a_core_error_naming_memory_budget():
    with pytest.raises(CoreError) as info:
        budget.plan_chunks(1000, 10, memory_budget=1, with_stats=True)
    assert isinstance(info.value, BudgetError) and isinstance(info.value, ValueError)
    assert info.value.param == "memory_budget" and str(info.value) == info.value.message
    assert "raise memory_budget" in info.value.message and "\n" not in info.value.message


def test_resolve_budget_explicit_or_default_from_one_reading(monkeypatch):
    reads = []

    def fake_free(device="cpu"):
        reads.append(device)
        return 64 * budget.GIB

    monkeypatch.setattr(budget, "available_memory", fake_free)
    assert budget.resolve_budget(12345, "cpu") == 12345 and reads == []
    assert budget.resolve_budget(None, "cpu") == 512 * budget.MIB and len(reads) == 1
    assert budget.resolve_budget(None, "cpu", free=256 * budget.MIB) == 32 * budget.MIB and len(reads) == 1
    assert budget.resolve_budget(None, torch.device("cpu"), free=0) == 16 * budget.MIB  # the floor


def test_estimate_reuses_the_free_bytes_it_is_given(monkeypatch):
    monkeypatch.setattr(budget, "available_memory", lambda device="cpu": pytest.fail("free memory re-read"))
    est = budget.estimate_memory(100, 10, 8, free=budget.GIB)
    assert est.available_bytes == budget.GIB and est.plan.pattern_chunk == 100
    plan = budget.ChunkPlan(3, 7, 123)
    assert budget.estimate_memory(100, 10, 8, memory_budget=1, free=budget.GIB, plan=plan).block_bytes == 123
