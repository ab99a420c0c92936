"""Duplicate examples: exact copies, and near copies that differ only in case, spacing or punctuation.

Duplicates over-weight one conversation in training and, once the file is split, leak test answers into
training. Exact copies are what ``--fix`` drops; near copies are reported for a person to judge.
"""

from __future__ import annotations

import json
import re
import unicodedata

from caretune.data.validate.findings import Finding, warning

Turns = list[tuple[str, str]]

_PUNCTUATION = re.compile(r"[^\w\s]")


def exact_key(turns: Turns) -> str:
    """Two examples with the same key train the model on exactly the same text."""
    return json.dumps(turns, ensure_ascii=False)


def near_key(turns: Turns) -> str:
    """The text with case, punctuation, spacing and Unicode variants folded away."""
    parts = []
    for role, content in turns:
        text = _PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", content).casefold())
        parts.append(f"{role}:{' '.join(text.split())}")
    return "\n".join(parts)


def check_duplicates(examples: list[tuple[int, Turns]]) -> list[Finding]:
    """A warning on every example that repeats an earlier one, naming the line it repeats."""
    first_exact: dict[str, int] = {}
    first_near: dict[str, int] = {}
    findings: list[Finding] = []
    for line, turns in examples:
        exact, near = exact_key(turns), near_key(turns)
        if exact in first_exact:
            findings.append(warning(line, "duplicate", f"exact duplicate of line {first_exact[exact]}"))
        elif near in first_near:
            what = f"near duplicate of line {first_near[near]} (differs only in case, spacing or punctuation)"
            findings.append(warning(line, "near_duplicate", what))
        first_exact.setdefault(exact, line)
        first_near.setdefault(near, line)
    return findings
