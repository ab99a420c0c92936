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
from caretune.knowledge.store import KnowledgeBase, content_words

Mode = Literal["lexical", "dense", "hybrid"]
RRF_K = 60  # the constant of Cormack et al.'s reciprocal rank fusion
CANDIDATES = 20  # how deep each retriever looks before fusing
# BM25's share of the fused score: a common word ("cost", "page") that a wrong passage happens to share outranks
# a paraphrase, so exact words count for half (docs/EVALUATION.md: recall on the held-out demo turns).
LEXICAL_WEIGHT = 0.5
# Passages sharing this share of their content words (Jaccard) say the same thing: only the better one is kept.
NEAR_DUPLICATE = 0.5


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
    dense = dict(kb.dense(embed_query(query) if vector is None else vector, CANDIDATES)) if mode != "lexical" else {}
    fused: dict[int, float] = {}
    for ranked, weight in ((lexical, LEXICAL_WEIGHT), (dense, 1.0)):
        for rank, chunk_id in enumerate(ranked):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
    chunks = kb.chunks(fused)
    ranked = sorted((i for i in chunks if chunks[i].origin not in exclude_origins), key=lambda i: -fused[i])
    best = _distinct(ranked, {i: chunks[i].text for i in ranked}, k)
    return [
        Passage(
            id=f"{kb.name}:{i}", title=chunks[i].title, text=chunks[i].text, source=chunks[i].source,
            kind=chunks[i].kind, origin=chunks[i].origin, score=fused[i], similarity=dense.get(i),
            lexical=lexical.get(i),
        )
        for i in best
    ]


def _distinct(ranked: list[int], texts: dict[int, str], k: int) -> list[int]:
    """The first ``k`` of ``ranked`` that do not repeat a chosen one: past conversations often hold the same
    answer many times over, and three copies of one reply would leave no room for the passage that differs."""
    chosen: list[int] = []
    words: list[set[str]] = []
    for chunk_id in ranked:
        these = set(content_words(texts[chunk_id]))
        if any(len(these & seen) >= NEAR_DUPLICATE * len(these | seen) for seen in words):
            continue
        chosen.append(chunk_id)
        words.append(these)
        if len(chosen) == k:
            break
    return chosen


def nearness_to(kb: KnowledgeBase, vector: np.ndarray, k: int, exclude_origins: frozenset[str] = frozenset()) -> float:
    """Mean cosine of the ``k`` chunks nearest a query's embedding, whatever search returns (0 when empty);
    chunks whose origin is excluded are passed over, as in :func:`search`."""
    found = kb.dense(vector, k + CANDIDATES if exclude_origins else k)
    if exclude_origins:
        chunks = kb.chunks(i for i, _ in found)
        found = [(i, score) for i, score in found if chunks[i].origin not in exclude_origins][:k]
    return float(np.mean([score for _, score in found])) if found else 0.0


def embed_query(query: str) -> np.ndarray:
    """The query's embedding: what dense search compares, and what the hand-off's domain classifier reads."""
    from caretune.knowledge.embeddings import get_embedder

    return get_embedder().encode([query])[0]
