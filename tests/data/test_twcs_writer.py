"""The TWCS writer reproduces the real dump's shape, which every reader test relies on."""

from __future__ import annotations

import csv
from pathlib import Path

from caretune.data.twcs_writer import TWCS_COLUMNS, write_twcs_csv

ROWS = [
    {
        "tweet_id": 1,
        "author_id": "115712",
        "inbound": True,
        "created_at": "Tue Oct 31 22:10:47 +0000 2017",
        "text": "@sprintcare hi, it's broken\nagain &amp; again 😡",
        "response_tweet_id": "2,3",
        "in_response_to_tweet_id": None,
    },
    {
        "tweet_id": 2,
        "author_id": "sprintcare",
        "inbound": False,
        "created_at": "Tue Oct 31 22:11:45 +0000 2017",
        "text": 'Say "hi" ^JK',
        "response_tweet_id": "",
        "in_response_to_tweet_id": "1.0",
    },
]


def test_writes_the_dump_shape(tmp_path: Path) -> None:
    path = write_twcs_csv(ROWS, tmp_path / "twcs.csv")
    lines = path.read_bytes().decode("utf-8").split("\n")
    assert lines[0] == ",".join(TWCS_COLUMNS)
    assert lines[1] == "1,115712,True,Tue Oct 31 22:10:47 +0000 2017,\"@sprintcare hi, it's broken"
    assert lines[2] == 'again &amp; again 😡","2,3",'
    assert lines[3] == '2,sprintcare,False,Tue Oct 31 22:11:45 +0000 2017,"Say ""hi"" ^JK",,1.0'
    assert "\r" not in path.read_text(encoding="utf-8")


def test_round_trips_through_a_csv_reader(tmp_path: Path) -> None:
    path = write_twcs_csv(ROWS, tmp_path / "twcs.csv")
    with path.open(newline="", encoding="utf-8") as f:
        back = list(csv.DictReader(f))
    assert [r["text"] for r in back] == [r["text"] for r in ROWS]
    assert [r["inbound"] for r in back] == ["True", "False"]
    assert back[0]["in_response_to_tweet_id"] == ""
