"""From per-turn replies to the numbers in the report, overall and per brand.

Per-turn values (similarities, token statistics) are computed once; aggregating a subset of turns (a brand)
then costs nothing, and corpus-level metrics (BLEU, chrF, perplexity) are recomputed on the subset as they
should be rather than averaged.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import fmean
from typing import Callable

from caretune.evaluation import metrics as m
from caretune.evaluation.likelihood import TokenStats
from caretune.evaluation.responders import Reply
from caretune.evaluation.schema import Metrics


def _behaviour(replies: list[Reply]) -> Metrics:
    """What every mode reports: length, clean stops, loops, leaks, latency."""
    texts = [r.text for r in replies]
    return {
        "reply_words": fmean(m.word_count(t) for t in texts),
        "clean_stop_rate": fmean(r.clean_stop for r in replies),
        "repetition": fmean(m.repetition_rate(t) for t in texts),
        "placeholder_rate": fmean(m.has_placeholder(t) for t in texts),
        "customer_side_rate": fmean(m.has_customer_side(t) for t in texts),
        "latency_s": fmean(r.latency_s for r in replies),
    }


def reference_metrics(
    replies: list[Reply],
    references: list[str],
    similarities: list[float],
    rouge: list[float],
    stats: list[TokenStats] | None,
) -> Metrics:
    """Every reference metric for aligned lists: the per-turn scores (``similarities``, ``rouge`` from
    ``rouge_per_turn``) are computed once per system and averaged here over any subset of turns; ``stats``
    is None for systems without a likelihood."""
    texts = [r.text for r in replies]
    total = sum(stats, TokenStats()) if stats is not None else TokenStats()
    return {
        "perplexity": total.perplexity,
        "token_accuracy": total.token_accuracy,
        "bleu": m.corpus_bleu(texts, references),
        "chrf": m.corpus_chrf(texts, references),
        "rouge_l": fmean(rouge),
        "semantic_similarity": fmean(similarities),
        **_behaviour(replies),
    }


def rouge_per_turn(texts: list[str], references: list[str]) -> list[float]:
    """ROUGE-L F1 of each reply against its reference (the report's mean, and paired comparisons)."""
    return [m.rouge_l(t, ref) for t, ref in zip(texts, references)]


def reference_free_metrics(replies: list[Reply], on_topic: list[float]) -> Metrics:
    """The checks that need no real answer: on-topic, stops, length, loops, leaks, latency."""
    return {"on_topic": fmean(on_topic), **_behaviour(replies)}


def by_brand(brands: list[str | None], aggregate: Callable[[list[int]], Metrics]) -> dict[str, Metrics]:
    """``aggregate`` applied to each brand's turn indices (turns without a brand are left out)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, brand in enumerate(brands):
        if brand:
            groups[brand].append(i)
    return {brand: aggregate(idx) for brand, idx in sorted(groups.items())}
