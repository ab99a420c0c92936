"""Turn the table of turns into training examples: trim, filter, cut into windows, count what is dropped.

Every input format ends up as the same table (one row per turn: ``source, thread, conversation, turn, role,
content, weight, brand, system``), in conversation order, so the rules below apply to raw logs and JSONL
alike. Conversations and examples get dense, sorted integer keys (``conv``, ``example``): per-group work
on a sorted key is several times faster than on the composite key. Drops are counted per reason, because a
user who gets 10k examples out of 800k threads needs to know why.
"""

from __future__ import annotations

from collections import Counter

import polars as pl

NO_AGENT_REPLY = "conversations with no agent reply"
BRAND_FILTERED = "conversations of brands not selected (--brand)"
TOO_SHORT = "conversations shorter than --min-turns"
EMPTY_TURN = "windows with a turn left empty by cleaning"
SHARED_PREFIX = "windows with no trained agent turn (all weight 0: a shared prefix trained in another conversation)"
LEADING_AGENT = "agent turns before the customer's first message"
UNANSWERED = "customer turns left without an agent reply"


def dense_key(keys: list[str], name: str) -> pl.Expr:
    """A sorted integer id that grows by one where ``keys`` change from the previous row."""
    changed = pl.any_horizontal([pl.col(k) != pl.col(k).shift(1) for k in keys]).fill_null(True)
    return changed.cum_sum().cast(pl.Int64).set_sorted().alias(name)


def number_conversations(turns: pl.DataFrame) -> pl.DataFrame:
    """Add ``conv``, the dense key of ``(source, conversation)`` (turns must be grouped by conversation)."""
    return turns.with_columns(dense_key(["source", "conversation"], "conv"))


def trim(turns: pl.DataFrame, dropped_turns: Counter[str]) -> pl.DataFrame:
    """Drop agent turns before the first customer turn and customer turns after the last agent turn.

    A conversation is opened by a customer; one whose start is missing from the input begins with the brand.
    A last customer message nobody answered teaches nothing. Turns are renumbered from 0.
    """
    is_user = pl.col("role") == "user"
    is_agent = pl.col("role") == "assistant"
    marked = turns.with_columns(
        first_user=pl.col("turn").filter(is_user).min().over("conv"),
        last_agent=pl.col("turn").filter(is_agent).max().over("conv"),
    )
    leading = pl.col("first_user").is_null() | (pl.col("turn") < pl.col("first_user"))
    trailing = pl.col("last_agent").is_null() | (pl.col("turn") > pl.col("last_agent"))
    dropped_turns[LEADING_AGENT] += marked.filter(is_agent & leading).height
    dropped_turns[UNANSWERED] += marked.filter(is_user & trailing & ~leading).height
    kept = marked.filter(~leading & ~trailing)
    return kept.with_columns(turn=(pl.col("turn") - pl.col("first_user")).cast(pl.Int32)).drop(
        "first_user", "last_agent"
    )


def filter_conversations(
    turns: pl.DataFrame, brands: list[str], min_turns: int, n_conversations: int, dropped: Counter[str]
) -> pl.DataFrame:
    """Keep conversations of the selected brands (case-insensitive) with at least ``min_turns`` turns.

    ``n_conversations`` is the count before :func:`trim`; those missing now had no agent reply.
    """
    dropped[NO_AGENT_REPLY] += n_conversations - count(turns, "conv")
    if brands:
        wanted = [brand.lower().lstrip("@") for brand in brands]
        before = count(turns, "conv")
        turns = turns.filter(pl.col("brand").str.to_lowercase().is_in(wanted))
        dropped[BRAND_FILTERED] += before - count(turns, "conv")
    before = count(turns, "conv")
    turns = turns.filter(pl.len().over("conv") >= min_turns)
    dropped[TOO_SHORT] += before - count(turns, "conv")
    return turns


def windows(turns: pl.DataFrame, max_turns: int, dropped: Counter[str]) -> pl.DataFrame:
    """Cut conversations into windows of at most ``max_turns`` turns (rounded down to an even number).

    Windows do not overlap, so each agent turn is trained once, with up to ``max_turns - 1`` turns of
    history. Windows with an empty turn, or whose agent turns are all weight 0, are dropped and counted.
    Adds ``window`` (its number in the conversation) and ``example`` (a dense key).
    """
    size = max(2, max_turns - max_turns % 2)
    cut = turns.with_columns(window=(pl.col("turn") // size).cast(pl.Int32))
    cut = cut.with_columns(dense_key(["conv", "window"], "example"))
    empty = (pl.col("content").str.strip_chars() == "").any().over("example")
    trained = (pl.col("weight").fill_null(0) == 1).any().over("example")
    flags = cut.select(empty=empty, trained=trained)
    dropped[EMPTY_TURN] += count(cut.filter(flags["empty"]), "example")
    dropped[SHARED_PREFIX] += count(cut.filter(~flags["empty"] & ~flags["trained"]), "example")
    return cut.filter(~flags["empty"] & flags["trained"])


def count(frame: pl.DataFrame, key: str) -> int:
    """Distinct values of ``key`` in ``frame``."""
    return frame.get_column(key).n_unique() if frame.height else 0
