"""Replace personal data with placeholders, as Polars expressions over whole columns.

A support bot trained on real logs must not learn (or leak) customers' handles, emails, phone numbers or
order numbers, so they become ``<user>``, ``<email>``, ``<phone>``, ``<number>``; links become ``<url>``.
The brand's own handles are not personal: ``@AcmeHelp`` stays, so the bot can still point to its account.
The regex engine has no look-around, so brand mentions are shielded with a control character meanwhile.
"""

from __future__ import annotations

import polars as pl

EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
URL = r"(?:https?://|www\.)\S+"
# ASCII classes and (?-u:\b) on purpose: Twitter handles and phone digits are ASCII, and Unicode word
# boundaries keep the regex engine off its fast DFA (bench/prepare.py shows the cost).
MENTION = r"@[A-Za-z0-9_]+"
# Needs a separator or a country code, so an order number like 19876119 is a <number>, not a <phone>.
PHONE = r"(?:\+[0-9]{1,3}[ .-]?[0-9]{2,5}|\([0-9]{2,5}\)|(?-u:\b)[0-9]{2,5})[ .-][0-9]{3,4}[ .-]?[0-9]{3,4}(?-u:\b)"
LONG_NUMBER = r"[0-9]{5,}"
_SHIELD = "\x00"


def anonymize_text(text: pl.Expr, brand_handles: list[str]) -> pl.Expr:
    """``text`` with emails, URLs, non-brand mentions, phone numbers and long digit runs replaced."""
    out = text.str.replace_all(EMAIL, "<email>").str.replace_all(URL, "<url>")
    if brand_handles:
        shielded = [f"{_SHIELD}{handle}" for handle in brand_handles]
        out = out.str.replace_many([f"@{handle}" for handle in brand_handles], shielded, ascii_case_insensitive=True)
    out = out.str.replace_all(MENTION, "<user>").str.replace_all(_SHIELD, "@", literal=True)
    return out.str.replace_all(PHONE, "<phone>").str.replace_all(LONG_NUMBER, "<number>")
