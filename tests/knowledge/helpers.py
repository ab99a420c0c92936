"""A small shop's policies as a knowledge base, shared by the knowledge, answering and hand-off tests."""

from __future__ import annotations

from pathlib import Path

from caretune.knowledge import KnowledgeBase
from caretune.runs.info import KnowledgeSettings

POLICIES = """# Acme help

## Returns
You can return unused items within 30 days of delivery for a full refund.

## Opening hours
Our stores are open 9am to 6pm, Monday to Saturday. We are closed on Sundays.

## Gift cards
Gift cards never expire. Check the balance at acme.example/giftcard.
"""


def policies_kb(root: Path, passages: int = 2) -> KnowledgeSettings:
    """A knowledge base of ``POLICIES`` under ``root``, answering with ``passages`` passages."""
    (root / "policies.md").write_text(POLICIES, encoding="utf-8")
    KnowledgeBase(root / "kb", create=True).add([root / "policies.md"])
    return KnowledgeSettings(path=str(root / "kb"), passages=passages)
