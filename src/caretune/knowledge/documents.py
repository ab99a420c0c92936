"""A company's knowledge as chunks: Markdown, plain text, HTML, FAQ pairs (CSV or JSONL) and past resolved
conversations (chat-format JSONL), each chunk with its title and where it came from.

Documents are cut where their authors cut them (headings, then paragraphs), so a chunk is one policy or one
answer, short enough that three of them fit a small model's prompt beside the conversation.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from caretune.errors import InputError

Kind = Literal["document", "faq", "conversation"]
MAX_WORDS = 120  # a section longer than this is cut at paragraph boundaries
SUFFIXES = (".md", ".markdown", ".txt", ".text", ".html", ".htm", ".csv", ".jsonl")
_QUESTION_KEYS = ("question", "q", "title")
_ANSWER_KEYS = ("answer", "a", "content")


class Chunk(BaseModel):
    """A retrievable piece of knowledge. A past conversation's title is the customer's question and its text
    the agent's answer; ``origin`` names the conversation it came from (:func:`origin_of`)."""

    title: str
    text: str
    kind: Kind = "document"
    origin: str | None = None

    @property
    def searched_text(self) -> str:
        """What a query is matched against: a past conversation by its question, anything else by all of it."""
        return self.title if self.kind == "conversation" else f"{self.title}\n{self.text}"


class Document(BaseModel):
    """A file's chunks and its content hash (an unchanged file is not re-indexed)."""

    source: str
    sha256: str
    chunks: list[Chunk]


def read_documents(paths: Iterable[Path]) -> Iterator[Document]:
    """Every file given, and every file with a known suffix under a directory given, as a document."""
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not files:
                raise InputError(f"no knowledge files ({', '.join(SUFFIXES)}) in this directory", path)
            yield from (read_document(f) for f in files)
        else:
            yield read_document(path)


def read_document(path: Path) -> Document:
    """One file as chunks, by its suffix; an unreadable or empty one is an ``InputError`` naming it."""
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path) from None
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"not a knowledge file: use one of {', '.join(SUFFIXES)}", path)
    digest = hashlib.sha256(raw).hexdigest()
    jsonl = functools.partial(_jsonl_chunks, digest=digest)
    reader = {".csv": _csv_chunks, ".jsonl": jsonl, ".html": _html_chunks, ".htm": _html_chunks}
    chunks = list(reader.get(suffix, _markdown_chunks)(text, path))
    if not chunks:
        raise InputError("no text to index", path)
    return Document(source=str(path.resolve()), sha256=digest, chunks=chunks)


def _sections_to_chunks(sections: Iterable[tuple[list[str], list[str]]], default_title: str) -> Iterator[Chunk]:
    """(heading path, paragraphs) → chunks of at most ``MAX_WORDS`` words, cut between paragraphs, titled by
    their nearest heading (the document's name says the rest, as the source)."""
    for headings, paragraphs in sections:
        title = headings[-1] if headings else default_title
        piece: list[str] = []
        for paragraph in paragraphs:
            if piece and len(" ".join(piece + [paragraph]).split()) > MAX_WORDS:
                yield Chunk(title=title, text="\n".join(piece))
                piece = []
            piece.append(paragraph)
        if piece:
            yield Chunk(title=title, text="\n".join(piece))


def _markdown_chunks(text: str, path: Path) -> Iterator[Chunk]:
    """Markdown (and plain text, which is Markdown without headings), cut at its headings."""
    from markdown_it import MarkdownIt

    sections: list[tuple[list[str], list[str]]] = [([], [])]
    headings: list[str] = []
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            level = int(token.tag[1])
            headings = headings[: level - 1] + [tokens[i + 1].content.strip()]
            sections.append((list(headings), []))
        elif token.type == "inline" and tokens[i - 1].type != "heading_open" and token.content.strip():
            sections[-1][1].append(" ".join(token.content.split()))
    yield from _sections_to_chunks(sections, path.stem)


def _html_chunks(text: str, path: Path) -> Iterator[Chunk]:
    """HTML's visible text, cut at its headings; scripts, styles and navigation are left out."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for hidden in soup(["script", "style", "nav", "header", "footer", "noscript"]):
        hidden.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else path.stem
    sections: list[tuple[list[str], list[str]]] = [([], [])]
    headings: list[str] = []
    for element in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "dd", "pre"]):
        words = " ".join(element.get_text(" ", strip=True).split())
        if not words:
            continue
        if element.name.startswith("h"):
            headings = headings[: int(element.name[1]) - 1] + [words]
            sections.append((list(headings), []))
        else:
            sections[-1][1].append(words)
    yield from _sections_to_chunks(sections, title)


def _faq_chunk(row: dict, path: Path, line: int) -> Chunk:
    """One question/answer pair; the question is the chunk's title."""
    lowered = {str(k).strip().lower(): v for k, v in row.items() if isinstance(v, str)}
    question = next((lowered[k].strip() for k in _QUESTION_KEYS if lowered.get(k, "").strip()), None)
    answer = next((lowered[k].strip() for k in _ANSWER_KEYS if lowered.get(k, "").strip()), None)
    if question is None or answer is None:
        raise InputError(
            f"an FAQ row needs a question ({'/'.join(_QUESTION_KEYS)}) and an answer ({'/'.join(_ANSWER_KEYS)}); "
            f"this one has {sorted(lowered)}",
            path, line,
        )
    return Chunk(title=question, text=answer, kind="faq")


def _csv_chunks(text: str, path: Path) -> Iterator[Chunk]:
    """A CSV of FAQ pairs, one per row."""
    for line, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        yield _faq_chunk(row, path, line)


def _jsonl_chunks(text: str, path: Path, digest: str) -> Iterator[Chunk]:
    """JSON Lines of FAQ pairs, or chat-format conversations: each agent reply with the question it answered
    (``digest``: the file's SHA-256, which names the conversations)."""
    from caretune.data.read_jsonl import parse_example
    from caretune.data.schema import ChatExample

    for line, raw in enumerate(text.encode("utf-8").split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", path, line) from None
        if isinstance(row, dict) and "messages" in row:
            yield from _conversation_chunks(parse_example(raw, path, line, ChatExample), origin_of(digest, line))
        else:
            yield _faq_chunk(row if isinstance(row, dict) else {}, path, line)


def origin_of(digest: str, line: int) -> str:
    """Which past conversation a chunk came from: its file's SHA-256 (``digest``) and its line. Training and the
    hand-off's calibration leave out the example's own conversation; naming the file by its content finds it
    in any copy, a file uploaded to the server or indexed from another directory alike."""
    return f"{digest}:{line}"


def _conversation_chunks(example, origin: str) -> Iterator[Chunk]:
    """How an agent actually answered: each trained agent turn with the customer message before it."""
    question = None
    for message in example.messages:
        if message.role == "user":
            question = message.content
        elif message.role == "assistant" and question and message.weight != 0:
            yield Chunk(title=question, text=message.content, kind="conversation", origin=origin)
