"""Validation runs on a bounded, seeded sample, so periodic evaluation cannot dwarf a short CPU run."""

from caretune.training.session import _sample


def test_sample_is_bounded_seeded_and_in_file_order() -> None:
    examples = list(range(100))
    first = _sample(examples, 10, seed=3)
    assert len(first) == 10 and first == sorted(first)
    assert first == _sample(examples, 10, seed=3)
    assert first != _sample(examples, 10, seed=4)


def test_small_sets_and_no_limit_are_kept_whole() -> None:
    assert _sample([1, 2, 3], 10, seed=0) == [1, 2, 3]
    assert _sample(list(range(500)), None, seed=0) == list(range(500))
