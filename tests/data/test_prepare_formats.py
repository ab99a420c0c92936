"""Output in the legacy completion format; OpenAI chat and legacy JSONL as inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prepare_helpers import conversation, examples, read_jsonl, run_prepare, tweet

from caretune.data.prepare import PrepareConfig, prepare
from caretune.errors import InputError
from tests.conftest import write_jsonl

THREAD = [
    tweet(1, "501", "@Acme where is my order"),
    tweet(2, "Acme", "@501 Which order number?", parent=1),
    tweet(3, "501", "@Acme the red shoes", parent=2),
    tweet(4, "Acme", "@501 They ship today.", parent=3),
]


def test_completion_format_one_example_per_agent_turn(tmp_path: Path) -> None:
    report, out = run_prepare(tmp_path, THREAD, format="completion")
    rows = read_jsonl(out / "train.jsonl")
    assert rows == [  # exactly the two keys of OpenAI's legacy format, and no system line unless asked
        {"prompt": "Customer: where is my order\nAgent:", "completion": " Which order number?\n"},
        {
            "prompt": "Customer: where is my order\nAgent: Which order number?\nCustomer: the red shoes\nAgent:",
            "completion": " They ship today.\n",
        },
    ]
    metadata = read_jsonl(out / "train.metadata.jsonl")  # line for line beside the examples
    assert [m["window"] for m in metadata] == [0, 0] and {m["brand"] for m in metadata} == {"Acme"}
    assert report.completion == {"separator": "\nAgent:", "stop": "\nCustomer"}
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["completion"] == {"separator": "\nAgent:", "stop": "\nCustomer"}


def test_completion_separator_and_system_prompt_are_options(tmp_path: Path) -> None:
    _, out = run_prepare(
        tmp_path, THREAD[:2], format="completion", separator="\n\n###\n\n", system_prompt="Help for {brand}!"
    )
    [row] = read_jsonl(out / "train.jsonl")
    assert row["prompt"] == "Help for Acme!\nCustomer: where is my order\n\n###\n\n"


def test_chat_jsonl_input_is_cleaned_and_keeps_weights(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be nice."},
                {"role": "user", "content": "@Acme mail me: jo@example.com"},
                {"role": "assistant", "content": "Sure &amp; thanks", "weight": 0},
                {"role": "user", "content": "ok"},
                {"role": "assistant", "content": "Done ^JK"},
            ],
            "metadata": {"brand": "Acme"},
        },
    ]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    report = prepare(
        PrepareConfig(inputs=[source], out=tmp_path / "out", valid_fraction=0, test_fraction=0), progress=False
    )
    [example] = examples(tmp_path / "out")
    assert example["messages"] == [
        {"role": "system", "content": "Be nice."},
        {"role": "user", "content": "mail me: <email>"},
        {"role": "assistant", "content": "Sure & thanks", "weight": 0},
        {"role": "user", "content": "ok"},
        {"role": "assistant", "content": "Done", "weight": 1},
    ]
    assert example["metadata"]["thread_id"] == "in.jsonl:1"
    assert report.inputs == {str(source): "chat"}


def test_legacy_jsonl_input_becomes_a_chat_example(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "legacy.jsonl", [{"prompt": "Is it open?\nAgent:", "completion": " Yes, till 6.\nCustomer"}]
    )
    prepare(PrepareConfig(inputs=[source], out=tmp_path / "out", valid_fraction=0, test_fraction=0), progress=False)
    [example] = examples(tmp_path / "out")
    assert conversation(example) == [("user", "Is it open?"), ("assistant", "Yes, till 6.")]
    assert example["messages"][0]["content"] == "You are a customer support agent for the company."


def test_format_is_detected_from_content_and_can_be_forced(tmp_path: Path) -> None:
    run_prepare(tmp_path, THREAD)
    renamed = tmp_path / "data.jsonl"
    renamed.write_bytes((tmp_path / "twcs.csv").read_bytes())
    report = prepare(PrepareConfig(inputs=[renamed], out=tmp_path / "o2"), progress=False)
    assert report.inputs == {str(renamed): "twcs"} and report.examples["total"] == 1
    with pytest.raises(InputError, match="invalid example") as error:
        prepare(PrepareConfig(inputs=[renamed], out=tmp_path / "o3", input_format="chat"), progress=False)
    assert error.value.line == 1
