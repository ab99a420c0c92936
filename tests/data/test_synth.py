"""The synthetic TWCS generator: exact size, determinism, and every awkward case of the real dump."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from caretune.data.synth import BRANDS, generate_twcs, write_synthetic_twcs
from caretune.data.twcs_writer import TWCS_COLUMNS


def test_exact_row_count_and_seeded(tmp_path: Path) -> None:
    assert generate_twcs(1234, seed=1).height == 1234
    assert generate_twcs(7, seed=1).height == 7
    assert generate_twcs(500, seed=1).equals(generate_twcs(500, seed=1))
    assert not generate_twcs(500, seed=1).equals(generate_twcs(500, seed=2))


def test_contains_the_awkward_cases(tmp_path: Path) -> None:
    path = write_synthetic_twcs(tmp_path / "twcs.csv", 5000, seed=0)
    raw = path.read_text(encoding="utf-8")
    frame = pl.read_csv(path, infer_schema=False)
    assert tuple(frame.columns) == TWCS_COLUMNS
    text, parent = frame["text"], frame["in_response_to_tweet_id"]
    ids = frame["tweet_id"].cast(pl.Int64)
    assert not ids.is_sorted(), "rows must not come in thread order"
    assert frame["response_tweet_id"].str.contains(",").any(), "tree threads"
    assert parent.str.ends_with(".0").any(), "float parent ids"
    parents = parent.drop_nulls().str.replace(r"\.0$", "").cast(pl.Int64)
    assert (~parents.is_in(ids.implode())).any(), "replies to absent tweets"
    for needle in ("&amp;", "https://t.co/", "😡", " 1/2", " 2/2", "^JK", "/AB", "-CM", "@example.com", "555-"):
        assert text.str.contains(needle, literal=True).any(), needle
    assert text.str.contains("\n").any() and '"' in raw, "quoted newlines"
    assert set(frame.filter(pl.col("inbound") == "False")["author_id"].unique()) == set(BRANDS)
    assert set(frame["inbound"].unique()) == {"True", "False"}
