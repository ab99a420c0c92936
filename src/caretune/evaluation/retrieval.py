"""The retrieval baseline: answer with the real agent reply whose context is most similar to this one.

It costs no training and never writes nonsense, so it is the bar a fine-tune must clear to be worth more than
a search over past tickets.
"""

from __future__ import annotations

from caretune.knowledge.embeddings import Embedder
from caretune.evaluation.turns import Turn, context_text


class RetrievalIndex:
    """MiniLM embeddings of every distinct training context, looked up by cosine similarity.

    Identical contexts are embedded once (support logs repeat "hi", "thanks", templated questions); the reply
    kept for a repeated context is the first one seen.
    """

    def __init__(self, train_turns: list[Turn], embedder: Embedder) -> None:
        if not train_turns:
            raise ValueError("the retrieval index needs at least one training turn")
        replies: dict[str, str] = {}
        for t in train_turns:
            replies.setdefault(context_text(t.history), t.reference or "")
        self._replies = list(replies.values())
        self._embedder = embedder
        self._vectors = embedder.encode(list(replies), progress=True)

    def answer(self, histories: list[list[dict]]) -> list[str]:
        """For each history, the agent reply of its nearest training context."""
        queries = self._embedder.encode([context_text(h) for h in histories])
        nearest = (queries @ self._vectors.T).argmax(axis=1)
        return [self._replies[i] for i in nearest]
