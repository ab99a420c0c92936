"""Splits by thread, deterministic for a seed; brand filter and example cap; synthetic logs end to end."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from prepare_helpers import read_jsonl

from caretune.data.prepare import PrepareConfig, prepare
from caretune.data.synth import BRANDS, write_synthetic_twcs


@pytest.fixture(scope="module")
def synthetic_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """3000 synthetic tweets: every awkward case of the generator, several brands."""
    return write_synthetic_twcs(tmp_path_factory.mktemp("synth") / "twcs.csv", 3000, seed=7)


def _run(csv: Path, out: Path, **options: object) -> dict[str, list[dict]]:
    prepare(PrepareConfig(inputs=[csv], out=out, **options), progress=False)
    return {split: read_jsonl(out / f"{split}.jsonl") for split in ("train", "valid", "test")}


def _threads(examples: list[dict]) -> set[str]:
    return {e["metadata"]["thread_id"] for e in examples}


def test_no_thread_in_two_splits_and_sizes_follow_the_fractions(synthetic_csv: Path, tmp_path: Path) -> None:
    splits = _run(synthetic_csv, tmp_path / "a", valid_fraction=0.2, test_fraction=0.1)
    train, valid, test = (_threads(splits[s]) for s in ("train", "valid", "test"))
    assert not (train & valid) and not (train & test) and not (valid & test)
    total = len(train | valid | test)
    assert 0.14 < len(valid) / total < 0.26
    assert 0.05 < len(test) / total < 0.15


def test_the_split_is_deterministic_for_a_seed(synthetic_csv: Path, tmp_path: Path) -> None:
    first = _run(synthetic_csv, tmp_path / "a", seed=3)
    again = _run(synthetic_csv, tmp_path / "b", seed=3)
    other = _run(synthetic_csv, tmp_path / "c", seed=4)
    assert first == again
    assert _threads(first["test"]) != _threads(other["test"])


def test_every_example_alternates_and_ends_with_a_trained_agent_turn(synthetic_csv: Path, tmp_path: Path) -> None:
    splits = _run(synthetic_csv, tmp_path / "a")
    examples = [e for s in splits.values() for e in s]
    assert len(examples) > 500
    for example in examples:
        roles = [m["role"] for m in example["messages"]]
        assert roles[0] == "system"
        assert roles[1:] == ["user", "assistant"] * (len(roles[1:]) // 2)
        assert any(m.get("weight") == 1 for m in example["messages"])
        assert all(m["content"].strip() for m in example["messages"])


def test_brand_filter_and_per_brand_counts(synthetic_csv: Path, tmp_path: Path) -> None:
    report = prepare(
        PrepareConfig(inputs=[synthetic_csv], out=tmp_path, brands=[BRANDS[0], BRANDS[1].lower()]), progress=False
    )
    assert set(report.brands) == {BRANDS[0], BRANDS[1]}
    assert report.dropped["conversations of brands not selected (--brand)"] > 0
    examples = [e for s in ("train", "valid", "test") for e in read_jsonl(tmp_path / f"{s}.jsonl")]
    assert Counter(e["metadata"]["brand"] for e in examples) == Counter(report.brands)


def test_max_examples_caps_the_output(synthetic_csv: Path, tmp_path: Path) -> None:
    splits = _run(synthetic_csv, tmp_path / "a", max_examples=50)
    assert sum(len(s) for s in splits.values()) == 50


def test_min_turns_drops_short_conversations(synthetic_csv: Path, tmp_path: Path) -> None:
    report = prepare(PrepareConfig(inputs=[synthetic_csv], out=tmp_path, min_turns=4), progress=False)
    assert report.dropped["conversations shorter than --min-turns"] > 0
    assert report.turns.min >= 4
