"""Paired per-turn comparisons: a consistent gap is called real, noise around zero is not."""

from __future__ import annotations

import numpy as np
import pytest

from caretune.evaluation.paired import paired_diff


def test_a_consistent_gap_has_an_interval_above_zero() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 400)
    ahead = base + 0.05 + rng.normal(0, 0.01, 400)
    result = paired_diff("ft", "retrieval", "rouge_l", list(ahead), list(base))
    assert result.mean_diff == pytest.approx(0.05, abs=0.002)
    assert 0 < result.low < result.mean_diff < result.high < 0.1 and result.better == 400 and result.worse == 0


def test_noise_around_zero_is_no_clear_difference_and_is_seeded() -> None:
    rng = np.random.default_rng(2)
    a, b = list(rng.uniform(0, 1, 300)), list(rng.uniform(0, 1, 300))
    result = paired_diff("ft", "base", "semantic_similarity", a, b, seed=3)
    assert result.low < 0 < result.high
    assert result == paired_diff("ft", "base", "semantic_similarity", a, b, seed=3)
