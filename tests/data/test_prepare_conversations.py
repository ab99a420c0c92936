"""CSVs of conversation rows (conversation id, customer text, agent text), as the classic recipes had them."""

from __future__ import annotations

from pathlib import Path

from prepare_helpers import conversation, examples

from caretune.data.prepare import PrepareConfig, prepare
from caretune.data.read_conversations import ColumnMap
from tests.cli.runner import caretune

ROWS = (
    "conversation_id,customer,agent\n"
    'c1,"my order has not arrived yet","Sorry! Which order?"\n'
    "c2,how do I reset my password,From Settings.\n"
    "c1,the red shoes,\n"
    "c1,,They ship today.\n"
    "c1,thanks,\n"
)


def _prepare(path: Path, out: Path, **options) -> None:
    prepare(PrepareConfig(inputs=[path], out=out, valid_fraction=0, test_fraction=0, **options), progress=False)


def test_rows_become_conversations_in_order(tmp_path: Path) -> None:
    source = tmp_path / "support.csv"
    source.write_text(ROWS, encoding="utf-8")
    _prepare(source, tmp_path / "out")
    first, second = examples(tmp_path / "out")
    assert conversation(first) == [  # its rows in file order, even with another conversation between them
        ("user", "my order has not arrived yet"), ("assistant", "Sorry! Which order?"),
        ("user", "the red shoes"), ("assistant", "They ship today."),
    ]  # the unanswered "thanks" is trimmed, as in any log
    assert conversation(second) == [("user", "how do I reset my password"), ("assistant", "From Settings.")]
    assert first["metadata"]["thread_id"] == "support.csv:1" and second["metadata"]["thread_id"] == "support.csv:2"


def test_one_side_twice_in_a_row_is_one_turn(tmp_path: Path) -> None:
    source = tmp_path / "support.csv"
    source.write_text("conversation,question,answer\n7,hello,\n7,is anyone there,Yes! How can I help?\n")
    _prepare(source, tmp_path / "out")
    [example] = examples(tmp_path / "out")
    assert conversation(example) == [("user", "hello is anyone there"), ("assistant", "Yes! How can I help?")]


def test_any_columns_through_the_mapping(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("ID,channel,question,response\n1,mail,hello,hi there\n", encoding="utf-8")
    result = caretune("prepare", source, "--out", tmp_path / "out", "--quiet", "--valid-fraction", "0",
                      "--test-fraction", "0", "--columns", "conversation=ID,customer=question,agent=response")
    assert result.returncode == 0, result.stderr
    [example] = examples(tmp_path / "out")
    assert conversation(example) == [("user", "hello"), ("assistant", "hi there")]


def test_a_csv_of_no_known_shape_is_told_what_fits(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("ID,channel,question,response\n1,mail,hello,hi there\n", encoding="utf-8")
    result = caretune("prepare", source, "--out", tmp_path / "out", "--quiet")
    assert result.returncode == 3
    message = result.stderr
    assert f"{source}:1: cannot tell the format of this CSV; its columns are ID, channel, question, response" in message
    assert "A TWCS CSV needs tweet_id, author_id, inbound, text, in_response_to_tweet_id" in message
    assert "conversation: conversation_id or conversation or thread_id" in message
    assert "--columns conversation=COLUMN,customer=COLUMN,agent=COLUMN" in message


def test_bad_mappings_and_rows(tmp_path: Path) -> None:
    source = tmp_path / "support.csv"
    source.write_text("conversation_id,customer,agent\nc1,hi,hello\n,lost,row\n", encoding="utf-8")
    missing = caretune("prepare", source, "--out", tmp_path / "o1", "--quiet",
                       "--columns", "conversation=ID,customer=customer,agent=agent")
    assert missing.returncode == 3
    assert "no column 'ID' (the columns are conversation_id, customer, agent)" in missing.stderr
    unnamed = caretune("prepare", source, "--out", tmp_path / "o2", "--quiet", "--columns", "customer=customer")
    assert unnamed.returncode == 2 and "--columns: conversation: Field required" in unnamed.stderr
    empty_id = caretune("prepare", source, "--out", tmp_path / "o3", "--quiet")
    assert empty_id.returncode == 3
    assert f"{source}:3 (column 'conversation_id'): empty conversation id" in empty_id.stderr
    _prepare(source, tmp_path / "o4", on_bad_rows="skip", columns=ColumnMap(conversation="conversation_id",
                                                                               customer="customer", agent="agent"))
    assert len(examples(tmp_path / "o4")) == 1
