"""OpenAI's `auto` hyperparameters follow the data size; explicit values win."""

from __future__ import annotations

from pathlib import Path

import pytest

from caretune.training import TrainConfig
from caretune.training.hyperparameters import resolve_hyperparameters


def _auto(n: int, **options):
    return resolve_hyperparameters(TrainConfig(data=Path("d"), out=Path("o"), **options), n)


@pytest.mark.parametrize(("n", "epochs"), [(10, 10), (20, 5), (100, 3), (5000, 3), (10_000, 2), (100_000, 1)])
def test_auto_epochs_keep_examples_seen_between_100_and_25000(n: int, epochs: int) -> None:
    assert _auto(n).n_epochs == epochs


def test_auto_batch_is_a_fifth_of_a_percent_capped_at_256() -> None:
    assert [_auto(n).batch_size for n in (50, 1000, 5000, 500_000)] == [1, 2, 10, 256]


def test_learning_rate_grows_with_batch_and_scales_by_method() -> None:
    small, large = _auto(100), _auto(10_000)
    assert small.learning_rate_multiplier < large.learning_rate_multiplier
    assert _auto(100, method="full").learning_rate == pytest.approx(small.learning_rate / 10)


def test_explicit_values_are_kept() -> None:
    hp = _auto(10, n_epochs=2, batch_size=8, learning_rate_multiplier=0.3)
    assert (hp.n_epochs, hp.batch_size, hp.learning_rate_multiplier) == (2, 8, 0.3)
