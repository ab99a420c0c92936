"""Checks of the legacy prompt/completion format, as OpenAI's ``openai tools fine_tunes.prepare_data`` (openai
0.x) makes them, reported by line.

One separator ends every prompt, one stop sequence ends every completion: without a fixed separator the
model cannot tell where the prompt ends, and without a fixed stop it does not know when to stop writing.
The markers are not declared anywhere, so they are inferred as the ending most examples share. The tool's
other remarks follow (``check_like_prepare_data``): keys besides prompt and completion (the tool removes
them), a separator or stop that also occurs inside a text, a long prefix every prompt (or completion) shares,
mostly upper-case text, very long examples, identical prompts or completions.
"""

from __future__ import annotations

import os
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


# The tool's thresholds: a shared prompt prefix longer than 12 characters (an instruction the fine-tune does
# not need), a shared completion prefix of 5 or more, more than a third of the letters upper-case, an
# example over 10,000 characters.
_LONGEST_PROMPT_PREFIX = 12
_LONGEST_COMPLETION_PREFIX = 4
_LONGEST_EXAMPLE_CHARS = 10_000
_FIELDS = ("prompt", "completion")


def check_like_prepare_data(examples: list[tuple[int, LegacyExample]], markers: LegacyMarkers) -> list[Finding]:
    """The remarks of OpenAI's ``prepare_data`` tool beyond the markers, each at the lines it concerns."""
    findings: list[Finding] = []
    for line, example in examples:
        extra = sorted(example.model_extra or {})
        if extra:
            findings.append(warning(line, "extra_key", f"keys besides prompt and completion: {extra} (OpenAI's "
                                    "prepare_data removes them; caretune ignores them)"))
        for kind, marker in ((_SEPARATOR, markers.separator), (_STOP, markers.stop)):
            text = getattr(example, kind.field)
            if marker and text.endswith(marker) and marker in text[: -len(marker)]:
                findings.append(warning(line, f"repeated_{kind.code}", f"the {kind.name} {marker!r} also occurs "
                                        f"inside the {kind.field} ({text.count(marker)} times in all): in a "
                                        "multi-turn prompt, earlier turns; the model answers after the last"))
        if len(example.prompt) + len(example.completion) > _LONGEST_EXAMPLE_CHARS:
            findings.append(warning(line, "long_example", f"over {_LONGEST_EXAMPLE_CHARS} characters"))
    return findings + _file_remarks([example for _, example in examples])


def _file_remarks(examples: list[LegacyExample]) -> list[Finding]:
    """Remarks on the file as a whole: shared prefixes, upper case, identical texts."""
    findings: list[Finding] = []
    for field, longest in (("prompt", _LONGEST_PROMPT_PREFIX), ("completion", _LONGEST_COMPLETION_PREFIX)):
        texts = [getattr(example, field) for example in examples]
        if len(texts) > 1 and len(set(texts)) == 1:
            findings.append(error(None, f"identical_{field}s", f"every {field} is the same: {texts[0][:60]!r}"))
            continue
        prefix = os.path.commonprefix(texts) if texts else ""
        if len(prefix) > longest:
            findings.append(warning(None, f"common_{field}_prefix", f"every {field} starts with {prefix!r}: OpenAI's "
                                    f"prepare_data recommends removing it (a fine-tune needs no instruction)"))
        letters = [c for text in texts for c in text if c.isalpha()]
        upper = sum(c.isupper() for c in letters)
        if upper * 2 > len(letters) - upper:
            findings.append(warning(None, f"upper_case_{field}", f"more than a third of the {field}s' letters "
                                    "are upper-case, which tends to train worse"))
    return findings
