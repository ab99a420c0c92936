"""File-wide checks of the legacy prompt/completion format: one separator ends every prompt, one stop sequence
ends every completion.

This is what OpenAI's ``prepare_data`` tool looked for: without a fixed separator the model cannot tell
where the prompt ends, and without a fixed stop it does not know when to stop writing. The markers are not
declared anywhere, so they are inferred as the ending most examples share.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from caretune.data.schema import LegacyExample
from caretune.data.validate.findings import Finding, error, warning

# What --fix adds when a file has no marker at all: the ones OpenAI's tool recommended.
DEFAULT_SEPARATOR = "\n\n###\n\n"
DEFAULT_STOP = " END"

_LONGEST_MARKER = 12
# Endings made only of these are how sentences end, not markers someone chose.
_SENTENCE_PUNCTUATION = ".?!,;'\")"


class LegacyMarkers(BaseModel):
    """The separator and stop sequence the file uses (``None``: it has none)."""

    separator: str | None
    stop: str | None


def dominant_ending(texts: list[str]) -> str | None:
    """The marker-like ending shared by the most texts (at least half, at least two), longest on a tie."""
    counts = Counter(t[-k:] for t in texts for k in range(1, min(_LONGEST_MARKER, len(t)) + 1))
    needed = max(2, (len(texts) + 1) // 2)
    candidates = [(n, len(end), end) for end, n in counts.items() if n >= needed and _looks_like_marker(end)]
    return max(candidates)[2] if candidates else None


def _looks_like_marker(ending: str) -> bool:
    """A marker starts with whitespace (``"\\n"``, ``" END"``, ``" ->"``) or is made of symbols (``"###"``)."""
    if ending[0].isspace():
        return True
    return not any(ch.isalnum() for ch in ending) and bool(ending.strip(_SENTENCE_PUNCTUATION))


class _Marker(BaseModel):
    """How findings name one kind of marker."""

    field: str  # the example field it ends
    name: str  # for people
    code: str  # findings are no_<code> (file) and missing_<code> (line)
    default: str


_SEPARATOR = _Marker(field="prompt", name="separator", code="separator", default=DEFAULT_SEPARATOR)
_STOP = _Marker(field="completion", name="stop sequence", code="stop", default=DEFAULT_STOP)


def check_markers(examples: list[tuple[int, LegacyExample]]) -> tuple[LegacyMarkers, list[Finding]]:
    """Infer the file's separator and stop, and report the examples that do not use them."""
    markers = LegacyMarkers(
        separator=dominant_ending([ex.prompt for _, ex in examples]),
        stop=dominant_ending([ex.completion for _, ex in examples]),
    )
    findings = _check_ending(examples, _SEPARATOR, markers.separator)
    findings += _check_ending(examples, _STOP, markers.stop)
    return markers, findings


def _check_ending(examples: list[tuple[int, LegacyExample]], kind: _Marker, marker: str | None) -> list[Finding]:
    """One warning for the file when no marker is shared, else an error for each example lacking it."""
    if marker is None:
        what = f"{kind.field}s do not end with a common {kind.name}; end each with e.g. {kind.default!r}"
        return [warning(None, f"no_{kind.code}", what)]
    texts = [(line, getattr(ex, kind.field)) for line, ex in examples]
    n_with = sum(text.endswith(marker) for _, text in texts)
    what = f"{kind.field} does not end with the {kind.name} {marker!r} ({n_with} of {len(texts)} do)"
    return [error(line, f"missing_{kind.code}", what) for line, text in texts if not text.endswith(marker)]
