"""Real customer messages without answers (a CSV or JSONL), as one-message histories to reply to.

The shared real data is shaped differently per source (TWCS: a ``text`` column with both sides of the
dialogue and an ``inbound`` flag; BANKING77: ``text,category``), so the text column is picked by name and
only the customer side (``inbound`` True) is kept where the file says which side wrote a row. Messages are
cleaned and anonymised by the data stage's own functions, so the bot sees them as it saw training data.
"""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

from pydantic import BaseModel

from caretune.errors import InputError

TEXT_COLUMNS = ("text", "question", "message", "content", "query", "prompt")
# What is left of a message once placeholders are gone must contain a word to be a question at all.
_PLACEHOLDERS = re.compile(r"<(?:user|url|email|phone|number)>")


def _text_column(columns: list[str], wanted: str | None, path: Path) -> str:
    """The named column, else the first conventional text column the file has."""
    if wanted is not None:
        if wanted not in columns:
            raise InputError(f"no column {wanted!r} (columns: {', '.join(columns)})", path)
        return wanted
    found = next((c for c in TEXT_COLUMNS if c in columns), None)
    if found is None:
        raise InputError(f"no text column; pass --text-column (columns: {', '.join(columns)})", path)
    return found


def _csv_texts(path: Path, column: str | None) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        name = _text_column(list(reader.fieldnames or []), column, path)
        rows = [r for r in reader if (r.get("inbound") or "True").strip().lower() != "false"]
    return [r[name] or "" for r in rows]


def _jsonl_text(row: object, column: str | None, path: Path, line: int) -> str:
    """A bare string, an object's text field, or a chat example's last customer message."""
    if isinstance(row, str):
        return row
    if isinstance(row, dict) and "messages" in row and column is None:
        return next((m.get("content", "") for m in reversed(row["messages"]) if m.get("role") == "user"), "")
    if isinstance(row, dict):
        return str(row[_text_column(list(row), column, path)])
    raise InputError("expected a string or an object per line", path, line)


def _jsonl_rows(path: Path, column: str | None) -> list[Question]:
    """Each line's question, with the facts a correct answer states and the policy behind them, if given."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc}", path, number) from exc
            text = _jsonl_text(row, column, path, number)
            known = row if isinstance(row, dict) else {}
            rows.append(Question(text=text, facts=known.get("facts"), truth=known.get("policy")))
    return rows


def prepare_texts(texts: list[str]) -> list[str]:
    """Customer texts cleaned and anonymised as ``caretune prepare`` does (entities, mentions, links, numbers)."""
    import polars as pl

    from caretune.data.anonymize import anonymize_text
    from caretune.data.clean import clean_text

    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    cleaned = anonymize_text(clean_text(pl.col("text"), pl.lit(False)), brand_handles=[])
    return frame.select(cleaned).to_series().to_list()


class Question(BaseModel):
    """A customer message, and (a fact-checking set) the facts a correct answer states and their policy."""

    text: str
    facts: list[str] | None = None
    truth: str | None = None


def load_question_rows(path: Path, column: str | None = None, limit: int | None = None, seed: int = 0) -> list[Question]:
    """The customer messages of a file (prepared like training data, blanks dropped), optionally a sample."""
    if not path.is_file():
        raise InputError("file not found", path)
    if path.suffix in {".jsonl", ".json"}:
        rows = _jsonl_rows(path, column)
    else:
        rows = [Question(text=t) for t in _csv_texts(path, column)]
    prepared = [r.model_copy(update={"text": t}) for r, t in zip(rows, prepare_texts([r.text for r in rows]))]
    questions = [q for q in prepared if re.search(r"[^\W\d_]", _PLACEHOLDERS.sub("", q.text))]
    if not questions:
        raise InputError("no customer messages found", path)
    if limit is not None and limit < len(questions):
        questions = [questions[i] for i in sorted(random.Random(seed).sample(range(len(questions)), limit))]
    return questions


def load_questions(path: Path, column: str | None = None, limit: int | None = None, seed: int = 0) -> list[str]:
    """The customer messages alone."""
    return [q.text for q in load_question_rows(path, column, limit, seed)]
