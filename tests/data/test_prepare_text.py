"""Cleaning and anonymisation of tweet text, end to end through prepare."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prepare_helpers import conversation, examples, run_prepare, tweet

from caretune.data.anonymize import anonymize_text
from caretune.data.clean import clean_text

TRICKY = 'hi, it\'s "broken"\nagain &amp; again 😡 &lt;3'


def _pair(customer_text: str, agent_text: str) -> list[dict]:
    return [tweet(1, "501", customer_text), tweet(2, "Acme", agent_text, parent=1)]


def test_quoted_commas_newlines_emoji_and_entities_survive(tmp_path: Path) -> None:
    _, out = run_prepare(tmp_path, _pair(f"@Acme {TRICKY}", "@501 Sorry, we're on it -CM"))
    [example] = examples(out)
    assert conversation(example) == [
        ("user", 'hi, it\'s "broken"\nagain & again 😡 <3'),
        ("assistant", "Sorry, we're on it"),
    ]


def test_keep_signatures_keeps_the_agents_initials(tmp_path: Path) -> None:
    _, out = run_prepare(tmp_path, _pair("@Acme hi", "@501 Hello /AB"), keep_signatures=True)
    assert conversation(examples(out)[0])[1] == ("assistant", "Hello /AB")


def test_personal_data_becomes_placeholders_but_the_brand_handle_stays(tmp_path: Path) -> None:
    customer = "@Acme @4242 mail me at jo.doe@example.com or 555-123-4567, order 12345678 https://t.co/AbC"
    agent = "@501 Thanks! Follow @Acme and DM @acme, not @someone. ^RR"
    _, out = run_prepare(tmp_path, _pair(customer, agent))
    assert conversation(examples(out)[0]) == [
        ("user", "mail me at <email> or <phone>, order <number> <url>"),
        ("assistant", "Thanks! Follow @Acme and DM @Acme, not <user>."),
    ]


def test_no_anonymize_keeps_personal_data(tmp_path: Path) -> None:
    _, out = run_prepare(tmp_path, _pair("@Acme call 555-123-4567", "@501 Will do @Bob"), anonymize=False)
    assert conversation(examples(out)[0]) == [("user", "call 555-123-4567"), ("assistant", "Will do @Bob")]


def test_cleaning_expressions_on_a_column() -> None:
    frame = pl.DataFrame(
        {
            "text": ["@a @b (1/2) Part one", "@x Ok. 2/2 ^JK https://t.co/q", "costs 1/2 less - OK"],
            "agent": [True, True, False],
        }
    )
    cleaned = frame.select(clean_text(pl.col("text"), pl.col("agent"))).to_series().to_list()
    assert cleaned == ["Part one", "Ok. https://t.co/q", "costs 1/2 less - OK"]
    anonymized = frame.select(anonymize_text(pl.col("text"), ["b"])).to_series().to_list()
    assert anonymized[0] == "<user> @b (1/2) Part one"
