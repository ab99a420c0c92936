"""``caretune prepare`` as a library call: support logs in, train/valid/test JSONL and a report out.

The stages live in their own modules (reading, cleaning, anonymising, threads, windows, split, writers,
report); this one only wires them in order, under one pydantic ``PrepareConfig`` that the CLI fills from its
options, and shows the stages on a progress bar.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polars as pl
from tqdm import tqdm

from caretune.data import windowing as conv
from caretune.data.anonymize import anonymize_text
from caretune.data.config import DEFAULT_SYSTEM_PROMPT, PrepareConfig
from caretune.data.clean import clean_text
from caretune.data.formats import InputFormat, detect_format
from caretune.data.read_conversations import read_conversations
from caretune.data.read_jsonl import TURN_SCHEMA, read_jsonl
from caretune.data.read_twcs import read_twcs
from caretune.data.report import PrepareReport, build_report, write_report
from caretune.data.split import SPLITS, assign_splits, cap_examples
from caretune.data.threads import build_turns
from caretune.data.writers import METADATA_SUFFIX, Rendered, chat_lines, completion_lines, write_splits
from caretune.errors import InputError

STAGES = ("read", "clean", "threads", "windows", "split", "write")


def prepare(config: PrepareConfig, *, progress: bool = True) -> PrepareReport:
    """Run the whole data stage and return the report (also written to ``out/report.json``)."""
    _refuse_overwriting_inputs(config)
    bar = tqdm(STAGES, desc="prepare", unit="stage", disable=not progress)
    counts: dict[str, Counter[str]] = {k: Counter() for k in ("dropped", "dropped_turns", "bad_rows", "notes")}
    formats = {path: _format_of(path, config) for path in config.inputs}
    turns = _read_turns(config, formats, counts, bar)
    turns = conv.number_conversations(turns)
    n_conversations = conv.count(turns, "conv")
    turns = conv.trim(turns, counts["dropped_turns"])
    turns = conv.filter_conversations(turns, config.brands, config.min_turns, n_conversations, counts["dropped"])
    turns = conv.windows(turns, config.max_turns, counts["dropped"])
    bar.update()
    examples = _split(turns, config)
    bar.update()
    rendered = _render(examples, config, formats)
    write_splits(rendered.lines, config.out)
    if rendered.metadata is not None:
        write_splits(rendered.metadata, config.out, METADATA_SUFFIX)
    bar.update()
    bar.close()
    report = build_report(
        rendered.examples,
        inputs={str(p): f for p, f in formats.items()},
        output_format=config.format,
        conversations=n_conversations,
        threads=examples.select("source", "thread").n_unique() if examples.height else 0,
        completion=_completion_options(config),
        options=config.model_dump(mode="json"),
        **{k: dict(v) for k, v in counts.items()},
    )
    write_report(report, config.out)
    return report


def _completion_options(config: PrepareConfig) -> dict[str, str] | None:
    """What training and inference must reuse with the completion format: the separator and the stop."""
    return {"separator": config.separator, "stop": config.stop} if config.format == "completion" else None


def _refuse_overwriting_inputs(config: PrepareConfig) -> None:
    """The input is never modified: an output file that is an input is a usage mistake."""
    names = [f"{split}{suffix}" for split in SPLITS for suffix in (".jsonl", METADATA_SUFFIX)] + ["report.json"]
    outputs = {(config.out / name).resolve() for name in names}
    for path in config.inputs:
        if path.resolve() in outputs:
            raise InputError("this input would be overwritten by the output; choose another --out", path)


def _format_of(path: Path, config: PrepareConfig) -> InputFormat:
    """The forced ``--input-format``, or the one the content shows."""
    if not path.is_file():
        raise InputError(
            "cannot read file: no such file" if not path.exists() else "cannot read file: not a file", path
        )
    return detect_format(path, config.columns is not None) if config.input_format == "auto" else config.input_format


def _read_turns(
    config: PrepareConfig, formats: dict[Path, InputFormat], counts: dict[str, Counter[str]], bar: tqdm
) -> pl.DataFrame:
    """Read, clean and thread every input into one table of turns (TWCS files share one id space)."""
    twcs = [p for p, f in formats.items() if f == "twcs"]
    parts = [pl.DataFrame(schema=TURN_SCHEMA)]
    brand_handles = list(config.brands)
    if twcs:
        tweets = read_twcs(twcs, config.on_bad_rows, counts["bad_rows"])
        bar.update()
        brand_handles += tweets.filter(~pl.col("inbound"))["author"].unique().sort().to_list()
        tweets = tweets.with_columns(text=_clean(pl.col("text"), ~pl.col("inbound"), brand_handles, config))
        bar.update()
        turns = build_turns(tweets, twcs, config.on_bad_rows, counts["notes"], counts["bad_rows"])
        parts.append(turns.with_columns(system=pl.lit(None, dtype=pl.String)).select(list(TURN_SCHEMA)))
        bar.update()
    else:
        bar.update(3)
    for source, (path, fmt) in enumerate(formats.items(), start=1):
        if fmt == "twcs":
            continue
        if fmt == "conversations":
            turns = read_conversations(path, source, config.columns, config.on_bad_rows, counts["bad_rows"])
        else:
            turns = read_jsonl(
                path, source, fmt, config.on_bad_rows, counts["bad_rows"], separator=config.separator, stop=config.stop
            )
        parts.append(
            turns.with_columns(content=_clean(pl.col("content"), pl.col("role") == "assistant", brand_handles, config))
        )
    return pl.concat(parts)


def _clean(text: pl.Expr, is_agent: pl.Expr, brand_handles: list[str], config: PrepareConfig) -> pl.Expr:
    """Cleaning, then anonymisation unless ``--no-anonymize``."""
    cleaned = clean_text(text, is_agent, keep_signatures=config.keep_signatures)
    return anonymize_text(cleaned, sorted(set(brand_handles))) if config.anonymize else cleaned


def _split(turns: pl.DataFrame, config: PrepareConfig) -> pl.DataFrame:
    """Turns of the kept examples with their ``split`` (by thread), capped at ``--max-examples``."""
    examples = turns.select("example", "source", "thread", "conversation", "window").unique(
        subset="example", keep="first", maintain_order=True
    )
    examples = assign_splits(examples, config.seed, config.valid_fraction, config.test_fraction)
    examples = cap_examples(examples, config.max_examples, config.seed)
    return turns.join(examples.select("example", "split"), on="example", how="inner", maintain_order="left")


def _render(turns: pl.DataFrame, config: PrepareConfig, formats: dict[Path, InputFormat]) -> Rendered:
    """The output lines in the chosen format; ``--system-prompt`` replaces every conversation's own."""
    names = {0: ""} | {i: p.name for i, p in enumerate(formats, start=1)}
    if config.system_prompt:
        turns = turns.with_columns(system=pl.lit(None, dtype=pl.String))
    if config.format == "completion":
        return completion_lines(turns, names, config.system_prompt, config.separator)
    return chat_lines(turns, names, config.system_prompt or DEFAULT_SYSTEM_PROMPT)
