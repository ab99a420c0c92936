"""Write support logs in the exact shape of Kaggle's ``twcs.csv``.

The synthetic generator, the demo data and the tests all need files that look like the real dump, byte for
byte where it matters: minimal quoting (only fields with commas, quotes or newlines are quoted), ``True`` /
``False`` for ``inbound``, empty (not ``""``) for missing ids, ``\\n`` line ends. Keeping that knowledge in one
place means the reader is always tested against the same shape users will feed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

TWCS_COLUMNS: tuple[str, ...] = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)

# Twitter's own timestamp format, as the dump has it: ``Tue Oct 31 22:10:47 +0000 2017``.
TWCS_TIME_FORMAT = "%a %b %d %H:%M:%S +0000 %Y"


def _cell(value: Any) -> str | None:
    """One value as the dump writes it: booleans capitalised, missing and empty values as an empty field."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def write_twcs_csv(rows: Iterable[Mapping[str, Any]], path: str | Path) -> Path:
    """Write ``rows`` (dicts with the seven TWCS columns) to ``path`` as the real ``twcs.csv`` is written.

    Values may be ``str``, ``int``, ``bool`` or ``None``; ids may be given as text (``"119237.0"``) to
    reproduce the float-looking ids of the real file. Returns the path written.
    """
    import polars as pl

    columns: dict[str, list[str | None]] = {name: [] for name in TWCS_COLUMNS}
    for row in rows:
        for name in TWCS_COLUMNS:
            columns[name].append(_cell(row.get(name)))
    frame = pl.DataFrame(columns, schema={name: pl.String for name in TWCS_COLUMNS})
    return write_twcs_frame(frame, path)


def write_twcs_frame(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a frame holding the seven TWCS columns; the fast path for millions of generated rows.

    Booleans become ``True``/``False``; other columns are written as text, empty strings as empty fields.
    """
    import polars as pl

    missing = [name for name in TWCS_COLUMNS if name not in frame.columns]
    if missing:
        raise ValueError(f"TWCS frame lacks columns {missing}")
    exprs = []
    for name in TWCS_COLUMNS:
        col = pl.col(name)
        if frame.schema[name] == pl.Boolean:
            text = pl.when(col).then(pl.lit("True")).when(~col).then(pl.lit("False"))
        else:
            text = col.cast(pl.String)
        exprs.append(pl.when(text == "").then(None).otherwise(text).alias(name))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.select(exprs).write_csv(out, quote_style="necessary", line_terminator="\n")
    return out
