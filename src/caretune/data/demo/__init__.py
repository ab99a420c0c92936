"""Built-in demo data: the support log of Cairnline Outfitters, an invented outdoor-gear shop.

``demo_csv_path()`` is a TWCS-shaped CSV to try the whole pipeline on (``caretune prepare`` it like a real
log); ``demo_knowledge_dir()`` is the shop's policies as a Markdown knowledge base; ``POLICIES`` and
``demo_questions()`` say what a fine-tuned model should have learnt from it, and ``demo_fact_questions_path()``
holds held-out paraphrased questions with the facts a correct answer states (``caretune eval --questions``);
``demo_off_domain_path()`` holds messages customers write to other companies (banks, airlines, streaming...),
against which ``caretune eval --off-domain`` calibrates when the shop's bot hands over.
"""

from __future__ import annotations

from pathlib import Path

from caretune.data.demo.policies import (
    COMPANY,
    OFF_TOPIC_QUESTION,
    POLICIES,
    DemoQuestion,
    Policy,
    demo_questions,
)

__all__ = [
    "COMPANY", "OFF_TOPIC_QUESTION", "POLICIES", "DemoQuestion", "Policy", "demo_csv_path", "demo_fact_questions_path",
    "demo_knowledge_dir", "demo_off_domain_path", "demo_questions",
]


def demo_csv_path() -> Path:
    """The packaged demo support log (regenerate with ``python -m caretune.data.demo.generate``)."""
    return Path(__file__).with_name("demo_twcs.csv")


def demo_knowledge_dir() -> Path:
    """The shop's policies as Markdown, for ``caretune knowledge add``."""
    return Path(__file__).with_name("knowledge")


def demo_fact_questions_path() -> Path:
    """30 questions, two per policy, worded unlike the training data and the README's demo questions."""
    return Path(__file__).with_name("fact_questions.jsonl")


def demo_off_domain_path() -> Path:
    """124 messages to other kinds of company, written for caretune (none is the shop's business)."""
    return Path(__file__).with_name("off_domain_questions.jsonl")
