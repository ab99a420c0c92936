"""Read a CSV of conversation rows (conversation id, customer text, agent text) into the table of turns.

This is the shape of the classic GPT-3 support-bot recipes and of most help-desk exports: each row is one
exchange of a conversation, rows of a conversation in order. Columns are found by their usual names, or
named with ``--columns conversation=ID,customer=question,agent=response``. Consecutive texts of one side
make one turn, as in TWCS threads; an empty cell adds nothing.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict

from caretune.data.csv_locate import raise_first_problem, read_header
from caretune.data.read_jsonl import TURN_SCHEMA
from caretune.data.read_twcs import REQUIRED_COLUMNS as TWCS_COLUMNS
from caretune.data.read_twcs import OnBadRows, fail_at_record
from caretune.errors import InputError

NO_CONVERSATION_ID = "empty conversation id"


class ColumnMap(BaseModel):
    """Which CSV column holds each part of a conversation row (``--columns``)."""

    model_config = ConfigDict(extra="forbid")

    conversation: str
    customer: str
    agent: str


# The names each part goes by when no --columns is given, matched case-insensitively.
KNOWN_NAMES = {
    "conversation": ("conversation_id", "conversation", "thread_id"),
    "customer": ("customer", "customer_text", "question"),
    "agent": ("agent", "agent_text", "response", "answer"),
}


def parse_columns(text: str) -> dict[str, str]:
    """``conversation=ID,customer=question,agent=response`` → the mapping (checked by ``ColumnMap``)."""
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    return {key.strip(): (value[0].strip() if value else "") for key, *value in pairs}


def find_columns(header: list[str]) -> ColumnMap | None:
    """The columns of a conversation CSV found by their known names, or None when any part is missing."""
    by_name = {name.strip().lower(): name for name in header}
    found = {part: next((by_name[n] for n in names if n in by_name), None) for part, names in KNOWN_NAMES.items()}
    return ColumnMap(**found) if all(found.values()) else None  # type: ignore[arg-type]


def unknown_shape_message(header: list[str]) -> str:
    """What a CSV of no known shape is told: its columns, what each shape needs, and the mapping to use."""
    known = "; ".join(f"{part}: {' or '.join(names)}" for part, names in KNOWN_NAMES.items())
    return (
        f"cannot tell the format of this CSV; its columns are {', '.join(header)}. "
        f"A TWCS CSV needs {', '.join(TWCS_COLUMNS)}. A conversation CSV needs one column per part ({known}); "
        "name yours with --columns conversation=COLUMN,customer=COLUMN,agent=COLUMN"
    )


def read_conversations(
    path: Path, source: int, columns: ColumnMap | None, on_bad_rows: OnBadRows, bad_rows: Counter[str]
) -> pl.DataFrame:
    """Turns of every conversation in ``path``, conversations in order of first appearance; a conversation's
    ``thread`` is its ordinal (1-based), the only key a CSV row gives it."""
    header = read_header(path)
    chosen = columns or find_columns(header)
    if chosen is None:
        raise InputError(unknown_shape_message(header), path, 1)
    missing = [name for name in (chosen.conversation, chosen.customer, chosen.agent) if name not in header]
    if missing:
        raise InputError(f"no column {missing[0]!r} (the columns are {', '.join(header)})", path, 1, missing[0])
    rows = _read_rows(path, chosen, on_bad_rows)
    empty_id = rows.filter(pl.col("conversation_key") == "")
    if empty_id.height and on_bad_rows == "error":
        fail_at_record(path, empty_id["record"][0], NO_CONVERSATION_ID, chosen.conversation)
    bad_rows[NO_CONVERSATION_ID] += empty_id.height
    return _turns(rows.filter(pl.col("conversation_key") != ""), source)


def _read_rows(path: Path, columns: ColumnMap, on_bad_rows: OnBadRows) -> pl.DataFrame:
    """``record, conversation_key, user, assistant`` as text; a broken file names its first bad line."""
    names = {columns.conversation: "conversation_key", columns.customer: "user", columns.agent: "assistant"}
    try:
        raw = pl.read_csv(path, columns=list(names), infer_schema=False).with_row_index("record")
    except pl.exceptions.ComputeError as exc:
        raise_first_problem(path)
        raise InputError(f"cannot parse CSV: {str(exc).splitlines()[0]}", path) from exc
    if raw.height == 0:
        raise InputError("the file has a header but no rows", path)
    return raw.rename(names).with_columns(pl.col(c).fill_null("").str.strip_chars() for c in names.values())


def _turns(rows: pl.DataFrame, source: int) -> pl.DataFrame:
    """One row per turn, texts of one side in a row joined with a space."""
    order = rows.select("conversation_key").unique(maintain_order=True).with_row_index("thread", offset=1)
    texts = (
        rows.join(order, on="conversation_key", maintain_order="left")
        .unpivot(index=["thread", "record"], on=["user", "assistant"], variable_name="role", value_name="content")
        .with_columns(side=(pl.col("role") == "assistant").cast(pl.Int8))
        .filter(pl.col("content") != "")
        .sort("thread", "record", "side")
    )
    new_turn = (pl.col("role") != pl.col("role").shift(1).over("thread")).fill_null(True)
    turns = (
        texts.with_columns(turn=new_turn.cum_sum().over("thread") - 1)
        .group_by("thread", "turn", maintain_order=True)
        .agg(pl.col("role").first(), pl.col("content").str.join(" "))
    )
    return turns.select(
        pl.lit(source, dtype=pl.UInt16).alias("source"),
        pl.col("thread").cast(pl.Int64),
        pl.col("thread").cast(pl.Int64).alias("conversation"),
        pl.col("turn").cast(pl.Int32),
        "role",
        "content",
        pl.when(pl.col("role") == "assistant").then(1).cast(pl.Int8).alias("weight"),
        pl.lit(None, dtype=pl.String).alias("brand"),
        pl.lit(None, dtype=pl.String).alias("system"),
    ).select(list(TURN_SCHEMA))
