"""The demo log through the real data stage: ``caretune prepare`` then ``caretune validate``, as the README runs it."""

from __future__ import annotations

from pathlib import Path

import pytest
from prepare_helpers import read_jsonl

from caretune.data.demo import POLICIES, demo_csv_path
from caretune.data.validate import validate_file
from tests.cli.runner import caretune


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "prep"
    result = caretune("prepare", demo_csv_path(), "--out", out, timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def assistant_turns(path: Path) -> list[str]:
    return [
        m["content"]
        for example in read_jsonl(path)
        for m in example["messages"]
        if m["role"] == "assistant"
    ]


@pytest.mark.parametrize("split", ["train", "valid", "test"])
def test_prepared_demo_validates_without_errors(prepared: Path, split: str) -> None:
    report = validate_file(prepared / f"{split}.jsonl")
    assert report.ok and report.format == "chat" and report.n_examples >= 200
    assert not [f for f in report.findings if f.code not in {"duplicate", "near_duplicate"}]


def test_the_held_out_test_split_is_big_enough_to_measure(prepared: Path) -> None:
    assert len(assistant_turns(prepared / "test.jsonl")) >= 500


def test_every_policy_survives_cleaning_and_anonymisation(prepared: Path) -> None:
    train = " ".join(assistant_turns(prepared / "train.jsonl")).lower()
    missing = {topic: [f for f in p.facts if f.lower() not in train] for topic, p in POLICIES.items()}
    assert not {topic: facts for topic, facts in missing.items() if facts}
    assert "^" not in train and "1/2" not in train  # sign-offs and split markers are gone
