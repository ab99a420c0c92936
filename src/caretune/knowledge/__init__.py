"""A company's knowledge: documents and past resolved conversations, chunked, indexed (BM25 in SQLite's FTS5
plus MiniLM embeddings in FAISS) and searched, and the one layout in which passages enter a prompt.

Training (``caretune train --knowledge``) and the answering path use the same search and layout.
"""

from caretune.knowledge.layout import grounded_system, search_query
from caretune.knowledge.search import Passage, embed_query, nearness_to, search
from caretune.knowledge.store import KnowledgeBase, content_words, forget_opened, open_knowledge

__all__ = [
    "KnowledgeBase", "Passage", "content_words", "embed_query", "forget_opened", "grounded_system", "nearness_to",
    "open_knowledge", "search", "search_query",
]
