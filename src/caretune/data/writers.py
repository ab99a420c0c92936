"""Render examples as JSON lines (OpenAI chat or legacy completion format) and write the three splits.

The JSON of each line is built by Polars (``struct.json_encode`` and string concatenation) over whole
columns, so writing a million examples costs seconds. Chat lines carry ``weight`` on agent turns only, as
OpenAI's format has it, plus a ``metadata`` object (brand, thread, conversation, window). A legacy line has
exactly ``prompt`` and ``completion``, as OpenAI's ``prepare_data`` tool requires; its metadata goes to a side
file, line for line (``train.metadata.jsonl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from caretune.data.split import SPLITS

USER_PREFIX = "Customer:"
AGENT_PREFIX = "Agent:"


def system_text(template: str) -> pl.Expr:
    """The system message: the conversation's own, else ``template`` with ``{brand}`` filled in."""
    brand = pl.col("brand").fill_null("the company")
    pieces: list[pl.Expr] = []
    for i, text in enumerate(template.split("{brand}")):
        pieces += [brand, pl.lit(text)] if i else [pl.lit(text)]
    return pl.coalesce(pl.col("system"), pl.concat_str(pieces))


def metadata_of(source_names: dict[int, str]) -> pl.Expr:
    """The ``metadata`` struct: brand, thread id (``file:line`` for JSONL inputs), conversation, window."""
    names = pl.col("source").replace_strict(source_names, return_dtype=pl.String)
    line = pl.col("thread").cast(pl.String)
    thread = pl.when(names == "").then(line).otherwise(pl.concat_str([names, pl.lit(":"), line]))
    return pl.struct(
        pl.col("brand"),
        thread.alias("thread_id"),
        pl.col("conversation").cast(pl.String).alias("conversation_id"),
        pl.col("window"),
    )


_NO_EXAMPLES = pl.DataFrame(schema={"split": pl.String, "n_turns": pl.Int64, "n_chars": pl.Int64, "brand": pl.String})


METADATA_SUFFIX = ".metadata.jsonl"


class Rendered(NamedTuple):
    """Output text and per-example figures: ``lines`` (``split, line``: pieces that end with a newline where
    an example ends), ``examples`` (``split, n_turns, n_chars, brand``, one row per example) and, for the
    legacy format, ``metadata`` (``split, line``: each example's metadata, in the same order)."""

    lines: pl.DataFrame
    examples: pl.DataFrame
    metadata: pl.DataFrame | None = None


def chat_lines(turns: pl.DataFrame, source_names: dict[int, str], system_template: str) -> Rendered:
    """One chat-format JSON line per example, written as one piece per turn.

    Joining each example's messages in a group-by was the costliest step on the benchmark; instead each turn
    row carries its message, the first row of an example also the line's opening (system message) and the
    last row its closing (metadata and newline), and the pieces are written back to back.
    ``turns`` must be in example order, turns in order (as the pipeline keeps them): nothing is re-sorted.
    """
    if turns.height == 0:
        return Rendered(pl.DataFrame(schema={"split": pl.String, "line": pl.String}), _NO_EXAMPLES)
    weight = (
        pl.when(pl.col("role") == "assistant").then(pl.format('"weight":{},', pl.col("weight"))).otherwise(pl.lit(""))
    )
    content = pl.struct("content").struct.json_encode().str.slice(len('{"content":'))
    message = pl.concat_str([pl.lit('{"role":"'), pl.col("role"), pl.lit('",'), weight, pl.lit('"content":'), content])
    first = _example_starts(turns)
    last = np.append(first[1:], turns.height) - 1
    heads = turns[first].with_columns(system=system_text(system_template))
    system = pl.struct(pl.lit("system").alias("role"), pl.col("system").alias("content")).struct.json_encode()
    opening = heads.select(pl.concat_str([pl.lit('{"messages":['), system, pl.lit(",")])).to_series()
    closing = heads.select(
        pl.concat_str([pl.lit('],"metadata":'), metadata_of(source_names).struct.json_encode(), pl.lit("}\n")])
    ).to_series()
    before = pl.repeat(",", turns.height, eager=True).scatter(first, opening)
    after = pl.repeat("", turns.height, eager=True).scatter(last, closing)
    lines = turns.select("split", pl.concat_str([pl.lit(before), message, pl.lit(after)]).alias("line"))
    n_chars = np.add.reduceat(turns.get_column("content").str.len_chars().to_numpy(), first)
    examples = heads.select(
        "split",
        pl.Series("n_turns", np.diff(np.append(first, turns.height))),
        (pl.col("system").str.len_chars() + pl.Series(n_chars)).alias("n_chars"),
        "brand",
    )
    return Rendered(lines, examples)


def _example_starts(turns: pl.DataFrame) -> np.ndarray:
    """Row positions where a new example begins (``turns`` is in example order, not empty)."""
    example = turns.get_column("example").to_numpy()
    return np.flatnonzero(np.append(True, example[1:] != example[:-1]))


def completion_lines(
    turns: pl.DataFrame, source_names: dict[int, str], system_template: str | None, separator: str
) -> Rendered:
    """One legacy line per trained agent turn: prompt ``Customer: <text>`` (earlier turns before it, one per
    line; the system text first only when ``system_template`` is given) + separator.

    ``turns`` must be in example order, turns in order, as for :func:`chat_lines`.
    """
    prefix = pl.when(pl.col("role") == "user").then(pl.lit(USER_PREFIX)).otherwise(pl.lit(AGENT_PREFIX))
    rendered = pl.concat_str([prefix, pl.lit(" "), pl.col("content")])
    with_history = turns.with_columns(
        history=rendered.over("example", mapping_strategy="join"),
        position=pl.col("turn") - pl.col("turn").min().over("example"),
    )
    trained = with_history.filter((pl.col("role") == "assistant") & (pl.col("weight") == 1))
    history = pl.col("history").list.head(pl.col("position")).list.join("\n")
    lead = [system_text(system_template), pl.lit("\n")] if system_template is not None else []
    prompt = pl.concat_str([*lead, history, pl.lit(separator)])
    completion = pl.concat_str([pl.lit(" "), pl.col("content"), pl.lit("\n")])
    line = pl.struct(prompt.alias("prompt"), completion.alias("completion")).struct.json_encode()
    n_chars = prompt.str.len_chars() + completion.str.len_chars()
    lines = trained.select("split", (line + "\n").alias("line"))
    examples = trained.select("split", (pl.col("position") + 1).alias("n_turns"), n_chars.alias("n_chars"), "brand")
    metadata = trained.select("split", (metadata_of(source_names).struct.json_encode() + "\n").alias("line"))
    return Rendered(lines, examples, metadata)


def write_splits(lines: pl.DataFrame, out: Path, suffix: str = ".jsonl") -> dict[str, Path]:
    """Write ``train.jsonl``, ``valid.jsonl``, ``test.jsonl`` (each possibly empty; ``suffix`` names other
    files of the splits, such as their metadata) into ``out``.

    The pieces already hold their newlines, so they are written back to back (no terminator, no quoting).
    """
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for split in SPLITS:
        path = out / f"{split}{suffix}"
        pieces = lines.filter(pl.col("split") == split).select("line")
        pieces.write_csv(path, include_header=False, quote_style="never", line_terminator="")
        written[split] = path
    return written
