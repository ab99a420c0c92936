"""The demo company and its policies: facts a base model cannot know, so fine-tuning visibly teaches them.

Cairnline Outfitters is invented (an outdoor-gear web shop with three stores). Each policy lists the exact
phrases (``facts``) every agent answer on that topic states, which is what evaluation checks an answer
against, and the README demo shows base vs fine-tuned answers to ``demo_questions()``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Company(BaseModel):
    """Who the demo support log belongs to."""

    model_config = ConfigDict(frozen=True)

    name: str
    handle: str  # the brand's author_id in the support log, as in the real TWCS dump (no "@")
    website: str


class Policy(BaseModel):
    """One topic customers ask about; ``facts`` are phrases a correct answer contains (case-insensitive)."""

    model_config = ConfigDict(frozen=True)

    topic: str
    summary: str
    facts: tuple[str, ...]


class DemoQuestion(BaseModel):
    """A question for the README demo, worded unlike the training data, with the facts a good answer gives."""

    model_config = ConfigDict(frozen=True)

    question: str
    topic: str
    expected_facts: tuple[str, ...]


COMPANY = Company(name="Cairnline Outfitters", handle="CairnlineHelp", website="cairnline.example")

# (topic, facts, summary): the facts are phrases every agent answer on the topic contains.
_POLICY_TABLE: list[tuple[str, tuple[str, ...], str]] = [
    ("hours", ("8am to 8pm", "10am to 4pm"),
     "Support team: Monday to Friday 8am to 8pm ET, weekends 10am to 4pm ET."),
    ("refunds", ("45 days", "original payment method"),
     "Refunds within 45 days of delivery for unused items with tags, to the original payment method within "
     "5 to 7 business days of the return arriving."),
    ("shipping", ("3 to 5 business days", "$5.95", "$14.95"),
     "Standard shipping 3 to 5 business days for $5.95; express 1 to 2 business days for $14.95."),
    ("free_shipping", ("$75",),
     "Standard shipping is free on orders over $75 (US only)."),
    ("password", ("Forgot password", "30 minutes"),
     "Reset from the 'Forgot password?' link on the sign-in page; the emailed link works for 30 minutes."),
    ("warranty", ("2-year warranty", "cairnline.example/warranty"),
     "Cairnline-brand gear has a 2-year warranty against manufacturing defects; claims at "
     "cairnline.example/warranty with photos."),
    ("tracking", ("24 hours", "cairnline.example/track"),
     "A tracking email is sent within 24 hours of dispatch; track at cairnline.example/track."),
    ("exchanges", ("60 days", "Returns Centre"),
     "Free exchanges for another size or colour within 60 days, started in the Returns Centre."),
    ("international", ("7 to 14 business days", "$24.95"),
     "Ships to Canada, the UK, the EU and Australia: 7 to 14 business days, flat $24.95, duties paid by "
     "the customer."),
    ("stores", ("Denver", "Portland", "Salt Lake City", "10am to 7pm"),
     "Stores in Denver (1450 Larimer St), Portland (820 NW Glisan St) and Salt Lake City (255 S State St), "
     "open 10am to 7pm daily."),
    ("loyalty", ("Basecamp Rewards", "200 points", "$10 off"),
     "Basecamp Rewards: free to join, 1 point per $1, 200 points = $10 off, free returns for members."),
    ("price_match", ("price match", "14 days"),
     "Price match on identical items from authorised US retailers within 14 days of purchase; not "
     "marketplace sellers or clearance."),
    ("cancel", ("1 hour", "Order History"),
     "Orders can be cancelled within 1 hour of placing them, from Order History."),
    ("damaged", ("7 days", "photos", "free replacement"),
     "Items damaged in transit: send photos within 7 days of delivery for a free replacement."),
    ("gift_cards", ("never expire", "cairnline.example/giftcard"),
     "Gift cards never expire and are not redeemable for cash; check the balance at "
     "cairnline.example/giftcard."),
]

POLICIES: dict[str, Policy] = {t: Policy(topic=t, facts=f, summary=s) for t, f, s in _POLICY_TABLE}

_QUESTIONS = [
    ("I bought boots 5 weeks ago and never wore them, can I still send them back?", "refunds"),
    ("What does it cost to get a parcel to Germany and how long will it take?", "international"),
    ("Is there a minimum order for free delivery?", "free_shipping"),
    ("When can I reach someone from your support team on a Sunday?", "hours"),
    ("My tent pole snapped after a year of normal use. Am I covered?", "warranty"),
    ("I can't remember my login. How do I get back into my account?", "password"),
    ("Do you have a physical shop I can visit?", "stores"),
    ("How do your rewards points work?", "loyalty"),
    ("I found the same jacket cheaper at another store, can you match it?", "price_match"),
    ("I ordered the wrong size by mistake five minutes ago, can I still cancel?", "cancel"),
]

# The demo ends with a message meant for another company: a fine-tune with a calibrated hand-off passes it on.
OFF_TOPIC_QUESTION = "Can you move my dentist appointment to next Thursday?"


def demo_questions() -> list[DemoQuestion]:
    """Questions for the README's base-vs-fine-tuned demo, each with the facts a correct answer states."""
    return [DemoQuestion(question=q, topic=t, expected_facts=POLICIES[t].facts) for q, t in _QUESTIONS]
