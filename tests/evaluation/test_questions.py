"""Loading real customer messages from the shapes the shared data comes in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caretune.errors import InputError
from caretune.evaluation.questions import load_questions


def test_csv_keeps_customer_side_and_prepares_text(tmp_path: Path) -> None:
    path = tmp_path / "twcs.csv"
    path.write_text(
        "tweet_id,author_id,inbound,text\n"
        "1,115887,True,@SpotifyCares my playlist &amp; my songs are gone\n"
        "2,SpotifyCares,False,@115887 Sorry to hear that!\n"
        "3,115888,True,@SpotifyCares https://t.co/abc\n"
        '4,115889,True,"call me at 0161 496 0000\nplease"\n',
        encoding="utf-8",
    )
    assert load_questions(path) == ["my playlist & my songs are gone", "call me at <phone>\nplease"]


def test_banking_csv_and_jsonl_shapes(tmp_path: Path) -> None:
    csv_path = tmp_path / "banking.csv"
    csv_path.write_text("text,category\nwhere is my new card?,card_arrival\n", encoding="utf-8")
    assert load_questions(csv_path) == ["where is my new card?"]

    jsonl = tmp_path / "q.jsonl"
    rows = [
        "is the shop open?",
        {"question": "can I pay by card?"},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                      {"role": "user", "content": "refund please"}]},
    ]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert load_questions(jsonl) == ["is the shop open?", "can I pay by card?", "refund please"]


def test_limit_samples_and_unknown_column_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text("body\n" + "".join(f"question number {i}\n" for i in range(10)), encoding="utf-8")
    with pytest.raises(InputError, match="text column"):
        load_questions(path)
    sample = load_questions(path, column="body", limit=3, seed=2)
    assert len(sample) == 3 and sample == load_questions(path, column="body", limit=3, seed=2)
