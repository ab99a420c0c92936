"""Small builders for the data-stage tests: TWCS rows, prepare runs, JSONL reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from caretune.data.prepare import PrepareConfig, PrepareReport, prepare
from caretune.data.twcs_writer import write_twcs_csv

def tweet(tweet_id: int, author: str, text: str, parent: int | str | None = None, replies: str = "") -> dict[str, Any]:
    """One TWCS row; a numeric author is a customer (inbound), a name is a brand."""
    return {
        "tweet_id": tweet_id,
        "author_id": author,
        "inbound": author.isdigit(),
        "created_at": "Tue Oct 31 22:10:47 +0000 2017",
        "text": text,
        "response_tweet_id": replies,
        "in_response_to_tweet_id": parent,
    }


def run_prepare(tmp_path: Path, rows: list[dict[str, Any]], **options: Any) -> tuple[PrepareReport, Path]:
    """Write ``rows`` as a TWCS CSV and prepare it with ``options`` (no valid/test split unless asked)."""
    csv_path = write_twcs_csv(rows, tmp_path / "twcs.csv")
    options = {"valid_fraction": 0.0, "test_fraction": 0.0, **options}
    out = tmp_path / "out"
    return prepare(PrepareConfig(inputs=[csv_path], out=out, **options), progress=False), out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON object of a JSONL file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def examples(out: Path) -> list[dict[str, Any]]:
    """All examples of the three splits."""
    return [e for split in ("train", "valid", "test") for e in read_jsonl(out / f"{split}.jsonl")]


def conversation(example: dict[str, Any]) -> list[tuple[str, str]]:
    """``(role, content)`` of the non-system messages."""
    return [(m["role"], m["content"]) for m in example["messages"] if m["role"] != "system"]
