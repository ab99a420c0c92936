"""Clean support-log text as Polars expressions, so millions of tweets are cleaned without a Python loop.

What a model should learn from a tweet is its message, not Twitter's plumbing: HTML entities the export
left encoded, the @mentions that address the tweet, the agent's initials (``^JK``, ``/AB``, ``-CM``) and the
``1/2`` markers of answers split over several tweets (those tweets are merged into one turn elsewhere).
"""

from __future__ import annotations

import polars as pl

# The entities found in the TWCS export; replace_many decodes them in one pass, so "&amp;lt;" becomes "&lt;".
HTML_ENTITIES = {
    "&amp;": "&",
    "&lt;": "<",
    "&gt;": ">",
    "&quot;": '"',
    "&#39;": "'",
    "&apos;": "'",
    "&nbsp;": " ",
}
# ASCII classes and (?-u:\b): handles are ASCII, and Unicode \b keeps the regex engine off its fast DFA.
LEADING_MENTIONS = r"^(?:\s*@[A-Za-z0-9_]+)+\s*"
_TRAILING_LINKS = r"((?:\s+https?://\S+)*)\s*$"
# An agent's sign-off at the end, possibly followed by links: "... ^JK", "... /AB https://t.co/x", "... -CM".
SIGN_OFF = r"\s+(?:[\^~*]\s?[A-Za-z]{1,12}|[/\-–]\s?[A-Z]{1,3})" + _TRAILING_LINKS
SPLIT_MARKER_END = r"\s*[(\[]?(?-u:\b)[0-9]{1,2}/[0-9]{1,2}[)\]]?" + _TRAILING_LINKS
SPLIT_MARKER_START = r"^\s*[(\[]?[0-9]{1,2}/[0-9]{1,2}[)\]]?\s+"


def clean_text(text: pl.Expr, is_agent: pl.Expr, *, keep_signatures: bool = False) -> pl.Expr:
    """``text`` with entities decoded, leading mentions, split markers and (agents') sign-offs removed."""
    out = text.str.replace_many(list(HTML_ENTITIES), list(HTML_ENTITIES.values()))
    out = out.str.replace(LEADING_MENTIONS, "")
    if not keep_signatures:
        out = pl.when(is_agent).then(out.str.replace(SIGN_OFF, "$1")).otherwise(out)
    out = out.str.replace(SPLIT_MARKER_END, "$1").str.replace(SPLIT_MARKER_START, "")
    return out.str.replace_all(r"[ \t]{2,}|\t", " ").str.strip_chars()
