"""A knowledge base on disk: a directory with a SQLite file (documents, chunks, SQLite's FTS5 index for BM25)
and a FAISS index of the chunks' MiniLM embeddings beside it.

SQLite is the record: the chunks, their embeddings and a generation number that every change raises. The
FAISS file is derived from it (rebuilt from the stored embeddings when it is missing or older), so a crash
between the two writes loses nothing, and a server notices a change another process made at its next search.
Writers take SQLite's write lock (``BEGIN IMMEDIATE``), so the CLI and a server can add to one base safely.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from caretune.errors import InputError
from caretune.knowledge.documents import Document, Kind, origin_of, read_documents

DB_FILE = "knowledge.sqlite"
VECTORS_FILE = "vectors.faiss"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, source TEXT UNIQUE NOT NULL, sha256 TEXT NOT NULL, added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    position INTEGER NOT NULL, kind TEXT NOT NULL, title TEXT NOT NULL, text TEXT NOT NULL, origin TEXT,
    embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_document ON chunks(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(searched, tokenize = 'porter unicode61');
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
"""


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its meaning: words such as "can" or "my" would make BM25 rank
    whatever policy says them (FTS5 has no stop list)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # loaded with the embedder anyway

    return [w for w in re.findall(r"\w+", text.lower()) if w not in ENGLISH_STOP_WORDS]


class StoredChunk(BaseModel):
    """A chunk as the base holds it: its id and where it came from."""

    id: int
    source: str
    title: str
    text: str
    kind: Kind
    origin: str | None = None


class DocumentInfo(BaseModel):
    """One indexed document, for ``caretune knowledge list`` and the API."""

    source: str
    sha256: str
    added_at: str
    chunks: int


class AddResult(BaseModel):
    """What adding files did: re-adding an unchanged file does nothing, an edited one replaces its chunks."""

    added: list[str] = []
    replaced: list[str] = []
    unchanged: list[str] = []
    chunks: int = 0


class KnowledgeBase:
    """One knowledge base directory; thread-safe (each call opens its own SQLite connection)."""

    def __init__(self, path: str | Path, create: bool = False) -> None:
        self.path = Path(path).expanduser()
        if not self.exists(self.path):
            if not create:
                raise InputError("not a knowledge base (create one with `caretune knowledge add`)", self.path)
            self.path.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # a property of the file: set once, it holds for every connection
            db.executescript(_SCHEMA)
            _name_files_by_content(db)
        self._lock = threading.Lock()
        self._index = None
        self._index_generation = -1

    @property
    def name(self) -> str:
        return self.path.name

    @staticmethod
    def exists(path: str | Path) -> bool:
        """Whether ``path`` holds a knowledge base."""
        return (Path(path).expanduser() / DB_FILE).is_file()

    # ------------------------------------------------------------------ writing

    def add(self, paths: Iterable[Path]) -> AddResult:
        """Index files (a directory: every knowledge file under it), by content hash, in one transaction."""
        return self.add_documents(list(read_documents(paths)))

    def add_documents(self, documents: list[Document]) -> AddResult:
        """Index read documents, each under its ``source`` name (uploads come this way)."""
        result = AddResult()
        with self._writing() as db:
            for document in documents:
                row = db.execute("SELECT id, sha256 FROM documents WHERE source = ?", (document.source,)).fetchone()
                if row is not None and row[1] == document.sha256:
                    result.unchanged.append(document.source)
                    continue
                if row is not None:
                    self._delete_document(db, row[0])
                (result.replaced if row is not None else result.added).append(document.source)
                self._insert(db, document)
                result.chunks += len(document.chunks)
        return result

    def remove(self, source: str) -> bool:
        """Forget a document and its chunks; False when no document has that source."""
        with self._writing() as db:
            row = db.execute("SELECT id FROM documents WHERE source = ?", (source,)).fetchone()
            if row is None:
                return False
            self._delete_document(db, row[0])
        return True

    def _insert(self, db: sqlite3.Connection, document: Document) -> None:
        from caretune.knowledge.embeddings import get_embedder

        vectors = get_embedder().encode([c.searched_text for c in document.chunks]).astype(np.float32)
        added_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        doc_id = db.execute(
            "INSERT INTO documents (source, sha256, added_at) VALUES (?, ?, ?)",
            (document.source, document.sha256, added_at),
        ).lastrowid
        for position, (chunk, vector) in enumerate(zip(document.chunks, vectors)):
            chunk_id = db.execute(
                "INSERT INTO chunks (document_id, position, kind, title, text, origin, embedding) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (doc_id, position, chunk.kind, chunk.title, chunk.text, chunk.origin, vector.tobytes()),
            ).lastrowid
            db.execute("INSERT INTO chunks_fts (rowid, searched) VALUES (?, ?)", (chunk_id, chunk.searched_text))

    @staticmethod
    def _delete_document(db: sqlite3.Connection, doc_id: int) -> None:
        db.execute("DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?)", (doc_id,))
        db.execute("DELETE FROM chunks WHERE document_id = ?", (doc_id,))
        db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock; the FAISS file is rewritten before it ends."""
        with self._lock, self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                generation = self._generation(db) + 1
                db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
                self._save_index(db, generation)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ reading

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, in the order they were added."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT d.source, d.sha256, d.added_at, COUNT(c.id) FROM documents d "
                "LEFT JOIN chunks c ON c.document_id = d.id GROUP BY d.id ORDER BY d.id"
            ).fetchall()
        return [DocumentInfo(source=r[0], sha256=r[1], added_at=r[2], chunks=r[3]) for r in rows]

    def chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        """The chunks with these ids."""
        ids = list(ids)
        if not ids:
            return {}
        with self._connect() as db:
            rows = db.execute(
                "SELECT c.id, d.source, c.title, c.text, c.kind, c.origin FROM chunks c JOIN documents d "
                f"ON d.id = c.document_id WHERE c.id IN ({','.join('?' * len(ids))})",
                ids,
            ).fetchall()
        return {r[0]: StoredChunk(id=r[0], source=r[1], title=r[2], text=r[3], kind=r[4], origin=r[5]) for r in rows}

    def lexical(self, query: str, limit: int) -> list[tuple[int, float]]:
        """(chunk id, BM25 score; higher is better) of the best lexical matches, best first."""
        terms = [f'"{w}"' for w in content_words(query)]
        if not terms:
            return []
        with self._connect() as db:
            rows = db.execute(
                "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) "
                "LIMIT ?",
                (" OR ".join(terms), limit),
            ).fetchall()
        return [(int(r[0]), -float(r[1])) for r in rows]

    def dense(self, vector: np.ndarray, limit: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the nearest chunks, nearest first."""
        import faiss

        index = self._current_index()
        if index.ntotal == 0:
            return []
        # One query is one pass over the vectors: FAISS's threads cost more to start than they save. The setting
        # is the calling thread's own (OpenMP's), so a build elsewhere keeps its threads.
        faiss.omp_set_num_threads(1)
        scores, ids = index.search(vector.reshape(1, -1).astype(np.float32), min(limit, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def __len__(self) -> int:
        with self._connect() as db:
            return db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]

    # ------------------------------------------------------------------ the FAISS index

    def _current_index(self):
        """The FAISS index as of the base's latest generation (reloaded after another writer's change)."""
        with self._connect() as db:
            generation = self._generation(db)
        if generation != self._index_generation:
            with self._lock:
                if generation != self._index_generation:
                    self._index, self._index_generation = self._load_index(generation), generation
        return self._index

    def _load_index(self, generation: int):
        import faiss

        path = self.path / VECTORS_FILE
        if path.is_file() and _stamp(path) == generation:
            return faiss.read_index(str(path))
        with self._connect() as db:  # missing or stale: rebuild from the embeddings SQLite holds
            return _build_index(db)

    def _save_index(self, db: sqlite3.Connection, generation: int) -> None:
        import faiss

        index = _build_index(db)
        tmp = self.path / f".{VECTORS_FILE}.{os.getpid()}.tmp"
        faiss.write_index(index, str(tmp))
        os.replace(tmp, self.path / VECTORS_FILE)
        (self.path / f"{VECTORS_FILE}.generation").write_text(str(generation))
        self._index, self._index_generation = index, generation

    @staticmethod
    def _generation(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection for one call (SQLite connections are cheap, and this keeps threads apart)."""
        db = sqlite3.connect(self.path / DB_FILE, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA foreign_keys=ON")
            yield db
        finally:
            db.close()


def _name_files_by_content(db: sqlite3.Connection) -> None:
    """A base made when an origin named its file by path (``/path/train.jsonl:7``) names it by the document's
    SHA-256 from now on, once (``meta.origins``): else training would find an example's own conversation."""
    if db.execute("SELECT 1 FROM meta WHERE key = 'origins'").fetchone():
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        rows = db.execute(
            "SELECT c.id, d.sha256, c.origin FROM chunks c JOIN documents d ON d.id = c.document_id "
            "WHERE c.origin IS NOT NULL"
        ).fetchall()
        renamed = [(origin_of(sha256, int(origin.rsplit(":", 1)[1])), i) for i, sha256, origin in rows]
        db.executemany("UPDATE chunks SET origin = ? WHERE id = ?", renamed)
        db.execute("INSERT OR IGNORE INTO meta VALUES ('origins', 'sha256')")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


@functools.lru_cache(maxsize=32)
def _opened(path: Path) -> KnowledgeBase:
    return KnowledgeBase(path)


def open_knowledge(path: str | Path) -> KnowledgeBase:
    """The knowledge base at ``path``, opened once per process (its FAISS index stays in memory)."""
    return _opened(Path(path).expanduser().resolve())


def forget_opened() -> None:
    """Drop every opened base (one was deleted: a new one of the same name must not reuse its index)."""
    _opened.cache_clear()


def _stamp(path: Path) -> int:
    stamp = path.with_name(f"{path.name}.generation")
    return int(stamp.read_text()) if stamp.is_file() else -1


def _build_index(db: sqlite3.Connection):
    """A FAISS inner-product index (cosine: the embeddings are normalised) over every chunk, by chunk id."""
    import faiss

    faiss.omp_set_num_threads(1)  # a query is one vector: OpenMP threads would only compete with decoding
    from caretune.knowledge.embeddings import DIMENSION

    rows = db.execute("SELECT id, embedding FROM chunks ORDER BY id").fetchall()
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(DIMENSION))
    if rows:
        vectors = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
        index.add_with_ids(vectors, np.array([r[0] for r in rows], dtype=np.int64))
    return index
