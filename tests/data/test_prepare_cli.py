"""Bad input through the real ``caretune prepare`` command: exit codes and messages naming file and line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from prepare_helpers import tweet

from caretune.data.twcs_writer import TWCS_COLUMNS, write_twcs_csv
from tests.cli.runner import caretune

HEADER = ",".join(TWCS_COLUMNS) + "\n"
GOOD = (
    '1,501,True,Tue Oct 31 22:10:47 +0000 2017,"@Acme hi, there",2,\n'
    "2,Acme,False,Tue Oct 31 22:11:47 +0000 2017,@501 Hello!,,1\n"
)


def _write(tmp_path: Path, body: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            HEADER.replace(",inbound", "").encode() + b"1,501,x,hi,,\n",
            ":1 (column 'inbound'): missing column 'inbound'",
        ),
        (b"", ": file is empty"),
        (HEADER.encode() + GOOD.encode() + b"3,502,True,x,caf\xe9,,\n", ":4: invalid UTF-8"),
        (HEADER.encode() + GOOD.encode() + b"3,502\n", ":4: broken CSV row: 2 fields, the header has 7"),
        (HEADER.encode() + GOOD.encode() + b'3,502,True,x,"never closed,,\n', ":4: broken CSV row"),
        (
            HEADER.encode() + GOOD.encode() + b"3,502,maybe,x,hi,,\n",
            ":4 (column 'inbound'): inbound is not True or False",
        ),
        (
            HEADER.encode() + GOOD.encode() + b"x3,502,True,x,hi,,\n",
            ":4 (column 'tweet_id'): tweet_id is not an integer",
        ),
    ],
    ids=["missing-column", "empty", "invalid-utf8", "short-row", "open-quote", "bad-bool", "bad-id"],
)
def test_bad_csv_exits_3_naming_file_and_line(tmp_path: Path, body: bytes, expected: str) -> None:
    path = _write(tmp_path, body)
    result = caretune("prepare", path, "--out", tmp_path / "out", "--quiet")
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith(f"caretune: error: {path}")
    assert expected in result.stderr
    assert not (tmp_path / "out" / "train.jsonl").exists()


def test_bare_carriage_return_inside_a_text_is_not_a_row_end(tmp_path: Path) -> None:
    body = HEADER + "1,501,True,x,@Acme phone:\rLumia\r\rok,2,\n2,Acme,False,x,@501 Noted,,1\n"
    path = _write(tmp_path, body.encode())
    result = caretune(
        "prepare", path, "--out", tmp_path / "out", "--quiet", "--valid-fraction", "0", "--test-fraction", "0"
    )
    assert result.returncode == 0, result.stderr
    [line] = (tmp_path / "out" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["messages"][1]["content"] == "phone:\rLumia\r\rok"


def test_reply_cycle_is_bad_input(tmp_path: Path) -> None:
    rows = [
        tweet(1, "501", "@Acme hi", parent=3),
        tweet(2, "Acme", "@501 yes", parent=1),
        tweet(3, "501", "@Acme ok", parent=2),
    ]
    path = write_twcs_csv(rows, tmp_path / "cycle.csv")
    result = caretune("prepare", path, "--out", tmp_path / "out", "--quiet")
    assert result.returncode == 3
    assert f"{path}:2 (column 'in_response_to_tweet_id'): reply cycle" in result.stderr


def test_unreadable_file_and_broken_jsonl_line(tmp_path: Path) -> None:
    missing = caretune("prepare", tmp_path / "nope.csv", "--out", tmp_path / "out")
    assert missing.returncode == 3 and "nope.csv: cannot read file" in missing.stderr
    chat = _write(
        tmp_path, b'{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "bot"}]}\n', "in.jsonl"
    )
    result = caretune("prepare", chat, "--out", tmp_path / "out")
    assert result.returncode == 3
    assert f"{chat}:2 (column 'messages.0.role')" in result.stderr


def test_skip_counts_bad_rows_and_never_modifies_the_input(tmp_path: Path) -> None:
    body = (
        HEADER.encode()
        + GOOD.encode()
        + b"3,502,True,x,caf\xe9,,\n4,503,True,x,short\n"
        + GOOD.replace("1,", "9,", 1).encode()
    )
    path = _write(tmp_path, body)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result = caretune("prepare", path, "--out", tmp_path / "out", "--on-bad-rows", "skip", "--quiet")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert report["bad_rows"] == {"invalid UTF-8": 1, "broken CSV row": 1, "duplicate tweet_id": 1}
    assert report["examples"]["total"] == 1
    assert "examples: 1" in result.stdout
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER.encode() + GOOD.encode())
    result = caretune("prepare", path, "--out", tmp_path / "out", "--valid-fraction", "0.6", "--test-fraction", "0.5")
    assert result.returncode == 2
    assert "--valid-fraction + --test-fraction must be below 1" in result.stderr
    assert caretune("prepare", path, "--out", tmp_path / "out", "--format", "xml").returncode == 2


def test_output_over_an_input_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER.encode() + GOOD.encode(), "train.jsonl")
    result = caretune("prepare", path, "--out", tmp_path, "--input-format", "twcs")
    assert result.returncode == 3 and "would be overwritten" in result.stderr
