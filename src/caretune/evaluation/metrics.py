"""Text metrics on (reply, reference) pairs and on replies alone.

Reference metrics use the standard libraries (sacrebleu, rouge-score) so the numbers mean what they mean in
papers; the reference-free checks are the ways a support bot visibly fails in front of a customer (rambling,
looping, leaking anonymisation placeholders, writing the customer's side of the dialogue).
"""

from __future__ import annotations

import re
from functools import lru_cache

# Placeholders the anonymiser writes (`<user>`, `<url>`, `<email>`, ...): a reply containing one shows the
# model copied training artefacts instead of writing to a real customer.
_PLACEHOLDER = re.compile(r"<(?:user|url|email|phone|number|name|card|account|handle|address|id)\w*>", re.I)
# The bot speaking as the customer: a reply that starts, or continues on a new line, with a customer prefix.
_CUSTOMER_SIDE = re.compile(r"(?:^|\n)\s*(?:customer|user|client|human)\s*:", re.I)


def corpus_bleu(replies: list[str], references: list[str], max_order: int = 4) -> float:
    """Corpus BLEU (0-100), the standard sacrebleu setting, so it compares with published figures;
    ``max_order=2`` is the BLEU Hardalov et al. (2018) report on Twitter customer support."""
    import sacrebleu

    return float(sacrebleu.metrics.BLEU(max_ngram_order=max_order).corpus_score(replies, [references]).score)


def corpus_chrf(replies: list[str], references: list[str]) -> float:
    """Corpus chrF (0-100): character n-grams, kinder than BLEU to short replies and spelling variants."""
    import sacrebleu

    return float(sacrebleu.corpus_chrf(replies, [references]).score)


@lru_cache(maxsize=1)
def _rouge_scorer():  # noqa: ANN202 - rouge_score has no type hints
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(reply: str, reference: str) -> float:
    """ROUGE-L F1 (0-1): longest common subsequence, rewarding the right words in the right order."""
    return float(_rouge_scorer().score(reference, reply)["rougeL"].fmeasure)


def word_count(text: str) -> int:
    """Whitespace-separated words: the reply length a reader perceives, independent of the tokenizer."""
    return len(text.split())


def repetition_rate(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier one (0 = no loop, near 1 = the same phrase over and over)."""
    words = text.lower().split()
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def has_placeholder(text: str) -> bool:
    """Whether the reply leaks an anonymisation placeholder such as ``<user>`` or ``<url>``."""
    return _PLACEHOLDER.search(text) is not None


def has_customer_side(text: str) -> bool:
    """Whether the reply writes the customer's side (``Customer: ...``), i.e. the model kept the dialogue going."""
    return _CUSTOMER_SIDE.search(text) is not None


# The details a support answer must never make up: prices, web addresses, street addresses.
_DETAILS = re.compile(
    r"\$\d[\d,]*(?:\.\d\d)?"  # $14.95
    r"|\b(?:https?://)?(?:[\w-]+\.)+(?:com|example|org|net|co|io)(?:/[\w/.-]*)?"  # cairnline.example/track
    r"|\b\d{1,5}(?: [A-Z][a-z]+){1,3} (?:St|Street|Ave|Avenue|Rd|Road|Blvd)\b"  # 1450 Larimer St
)


def states_facts(text: str, facts: list[str]) -> bool:
    """Whether the reply states every fact (each a phrase, matched case-insensitively)."""
    lowered = text.lower()
    return all(fact.lower() in lowered for fact in facts)


def invented_details(text: str, truth: str) -> list[str]:
    """The prices, web and street addresses of the reply that the company's own text (``truth``) never says."""
    known = truth.lower()
    return [d for d in (m.group(0).rstrip(".") for m in _DETAILS.finditer(text)) if d.lower() not in known]
