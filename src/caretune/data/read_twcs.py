"""Read TWCS-shaped CSV files into one typed table of tweets, on Polars.

The fast path is a single ``pl.read_csv`` of every column as text, then vectorised typing: ids may be
integers or float texts (``119237.0``), ``inbound`` is ``True``/``False``. Only when something is wrong does
the slow, precise pass of :mod:`caretune.data.csv_locate` run, to name the line (or, with
``--on-bad-rows skip``, to keep the good rows and count the others).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Literal

import polars as pl

from caretune.data.csv_locate import raise_first_problem, read_header, salvage
from caretune.errors import InputError

OnBadRows = Literal["error", "skip"]
REQUIRED_COLUMNS = ("tweet_id", "author_id", "inbound", "text", "in_response_to_tweet_id")
DUPLICATE_ID = "duplicate tweet_id"


def read_twcs(paths: list[Path], on_bad_rows: OnBadRows, bad_rows: Counter[str]) -> pl.DataFrame:
    """Tweets of all ``paths``: ``source, record, id, parent, author, inbound, text``; bad rows counted."""
    frames = [_read_one(path, source, on_bad_rows, bad_rows) for source, path in enumerate(paths)]
    tweets = pl.concat(frames)
    return _drop_duplicates(tweets, paths, on_bad_rows, bad_rows)


def _read_one(path: Path, source: int, on_bad_rows: OnBadRows, bad_rows: Counter[str]) -> pl.DataFrame:
    """One file, read, checked for columns, typed; rows with bad values raise or are skipped."""
    raw = _read_text_columns(path, on_bad_rows, bad_rows)
    missing = [name for name in REQUIRED_COLUMNS if name not in raw.columns]
    if missing:
        raise InputError(
            f"missing column {missing[0]!r} (a TWCS file needs {', '.join(REQUIRED_COLUMNS)})", path, 1, missing[0]
        )
    if raw.height == 0:
        raise InputError("the file has a header but no rows", path)
    typed = raw.select(_typed_columns(source)).with_columns(problem=_problem())
    bad = typed.filter(pl.col("problem").is_not_null())
    if bad.height and on_bad_rows == "error":
        first = bad.row(0, named=True)
        reason, column = first["problem"].split("|")
        fail_at_record(path, first["record"], reason, column)
    for reason, count in bad.group_by("problem").len().iter_rows():
        bad_rows[f"bad value in column {reason.split('|')[1]}"] += count
    return typed.filter(pl.col("problem").is_null()).drop("problem", "raw_parent")


def _read_text_columns(path: Path, on_bad_rows: OnBadRows, bad_rows: Counter[str]) -> pl.DataFrame:
    """The needed columns as text plus the record index; broken CSV falls back to the precise reader.

    Only ``\\n`` ends a record: exports of the dump hold bare ``\\r`` inside unquoted texts. Polars pads a
    row with too few fields; such a row is caught when a required value is then missing (and the precise
    reader names it as a broken row), and read with empty trailing fields otherwise.
    """
    header = read_header(path)
    wanted = [name for name in header if name in REQUIRED_COLUMNS] or None
    try:
        return pl.read_csv(path, columns=wanted, infer_schema=False, raise_if_empty=True).with_row_index("record")
    except pl.exceptions.NoDataError as exc:
        raise InputError("file is empty", path) from exc
    except pl.exceptions.ComputeError as exc:
        if on_bad_rows == "error":
            raise_first_problem(path)
            raise InputError(f"cannot parse CSV: {str(exc).splitlines()[0]}", path) from exc
    return _salvaged(path, bad_rows)


def _salvaged(path: Path, bad_rows: Counter[str]) -> pl.DataFrame:
    """The well-formed records of a file Polars refused, read by the standard library (skip mode)."""
    header, records, skipped = salvage(path)
    bad_rows.update(skipped)
    columns = {name: [fields[i] or None for _, fields in records] for i, name in enumerate(header)}
    return pl.DataFrame(columns, schema={name: pl.String for name in header}).with_columns(
        record=pl.Series([index for index, _ in records], dtype=pl.UInt32)
    )


def _as_id(column: str) -> pl.Expr:
    """An id column as Int64: ``119237`` and ``119237.0`` are the same tweet; anything else is null."""
    text = pl.col(column).str.strip_chars()
    return text.str.replace(r"\.0*$", "").cast(pl.Int64, strict=False)


def _typed_columns(source: int) -> list[pl.Expr]:
    """The columns prepare needs, typed; the raw parent text is kept to tell 'empty' from 'not a number'."""
    inbound = pl.col("inbound").str.strip_chars().str.to_lowercase()
    return [
        pl.lit(source, dtype=pl.UInt16).alias("source"),
        pl.col("record").cast(pl.UInt32),
        _as_id("tweet_id").alias("id"),
        _as_id("in_response_to_tweet_id").alias("parent"),
        pl.col("in_response_to_tweet_id").str.strip_chars().alias("raw_parent"),
        pl.col("author_id").str.strip_chars().alias("author"),
        pl.when(inbound == "true").then(True).when(inbound == "false").then(False).alias("inbound"),
        pl.col("text").fill_null(""),
    ]


def _problem() -> pl.Expr:
    """``reason|column`` for a row whose values cannot be used, null for a good row."""
    return (
        pl.when(pl.col("id").is_null())
        .then(pl.lit("tweet_id is not an integer id|tweet_id"))
        .when(pl.col("author").is_null() | (pl.col("author") == ""))
        .then(pl.lit("author_id is empty|author_id"))
        .when(pl.col("inbound").is_null())
        .then(pl.lit("inbound is not True or False|inbound"))
        .when(pl.col("parent").is_null() & (pl.col("raw_parent").fill_null("") != ""))
        .then(pl.lit("in_response_to_tweet_id is not an integer id|in_response_to_tweet_id"))
    )


def fail_at_record(path: Path, record: int, reason: str, column: str | None) -> None:
    """Raise an InputError for record ``record`` of ``path``, naming its line (or an earlier broken row)."""
    raise_first_problem(path, record, reason, column)
    raise InputError(reason, path, column=column)


def _drop_duplicates(
    tweets: pl.DataFrame, paths: list[Path], on_bad_rows: OnBadRows, bad_rows: Counter[str]
) -> pl.DataFrame:
    """A tweet id must be unique: the second occurrence is an error, or is skipped and counted."""
    repeated = ~pl.col("id").is_first_distinct()
    duplicates = tweets.filter(repeated)
    if duplicates.height == 0:
        return tweets
    if on_bad_rows == "error":
        first = duplicates.row(0, named=True)
        reason = f"{DUPLICATE_ID} {first['id']} (already seen earlier)"
        fail_at_record(paths[first["source"]], first["record"], reason, "tweet_id")
    bad_rows[DUPLICATE_ID] += duplicates.height
    return tweets.filter(~repeated)
