"""Finding the passages for a question: BM25 (exact words: product names, "gift card") and dense MiniLM
embeddings (paraphrases: "send them back" ~ "return"), fused by reciprocal rank.

Reciprocal rank fusion needs no score calibration between the two (BM25 is unbounded, cosine is not), which
is why Elasticsearch, Vespa and most hybrid retrievers default to it. The raw signals stay on each passage
for the answering step's confidence.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel

from caretune.knowledge.documents import Kind
from caretune.knowledge.store import KnowledgeBase

Mode = Literal["lexical", "dense", "hybrid"]
RRF_K = 60  # the constant of Cormack et al.'s reciprocal rank fusion
CANDIDATES = 20  # how deep each retriever looks before fusing


class Passage(BaseModel):
    """A retrieved chunk with its scores: ``score`` ranks (fused), ``similarity`` and ``lexical`` are the raw
    signals (cosine; BM25, None when no word matched)."""

    id: str
    title: str
    text: str
    source: str
    kind: Kind
    origin: str | None = None
    score: float
    similarity: float | None = None
    lexical: float | None = None


def search(
    kb: KnowledgeBase,
    query: str,
    k: int = 3,
    mode: Mode = "hybrid",
    exclude_origins: frozenset[str] = frozenset(),
    vector: np.ndarray | None = None,
) -> list[Passage]:
    """The ``k`` best passages for ``query``; chunks whose origin is excluded (the example being trained on)
    never come back. ``vector`` is the query's embedding when the caller embedded many queries at once."""
    if not query.strip() or k <= 0:
        return []
    lexical = dict(kb.lexical(query, CANDIDATES)) if mode != "dense" else {}
    dense = dict(kb.dense(_embed(query) if vector is None else vector, CANDIDATES)) if mode != "lexical" else {}
    fused: dict[int, float] = {}
    for ranked in (lexical, dense):
        for rank, chunk_id in enumerate(ranked):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    chunks = kb.chunks(fused)
    best = sorted((i for i in chunks if chunks[i].origin not in exclude_origins), key=lambda i: -fused[i])[:k]
    return [
        Passage(
            id=f"{kb.name}:{i}", title=chunks[i].title, text=chunks[i].text, source=chunks[i].source,
            kind=chunks[i].kind, origin=chunks[i].origin, score=fused[i], similarity=dense.get(i),
            lexical=lexical.get(i),
        )
        for i in best
    ]


def _embed(query: str):
    from caretune.knowledge.embeddings import get_embedder

    return get_embedder().encode([query])[0]
