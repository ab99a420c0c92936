"""Built-in demo data: the support log of Cairnline Outfitters, an invented outdoor-gear shop.

``demo_csv_path()`` is a TWCS-shaped CSV to try the whole pipeline on (``caretune prepare`` it like a real
log); ``POLICIES`` and ``demo_questions()`` say what a fine-tuned model should have learnt from it.
"""

from __future__ import annotations

from pathlib import Path

from caretune.data.demo.policies import COMPANY, POLICIES, DemoQuestion, Policy, demo_questions

__all__ = ["COMPANY", "POLICIES", "DemoQuestion", "Policy", "demo_csv_path", "demo_questions"]


def demo_csv_path() -> Path:
    """The packaged demo support log (regenerate with ``python -m caretune.data.demo.generate``)."""
    return Path(__file__).with_name("demo_twcs.csv")
