"""One demo conversation as a small tree of tweets, built from the phrasing tables with a seeded RNG.

The shapes are those of the real support log: a customer question, the agent's answer (sometimes split over
two tweets ``1/2``, ``2/2``, sometimes answered twice by two agents), and often a follow-up: thanks, or a new
question the agent answers too. Customers write loosely (typos, lower case, anger, politeness, extra
sentences, order numbers and e-mail addresses that anonymisation must catch); agents state the policy.
"""

from __future__ import annotations

import random

from pydantic import BaseModel

from caretune.data.demo import phrasing as ph

TWEET_LIMIT = 280
# Topics where asking for the order number is natural.
ORDER_TOPICS = frozenset({"tracking", "damaged", "cancel", "refunds", "warranty"})


class Tweet(BaseModel):
    """A tweet of one conversation; ``parent`` is the index of the tweet it answers in the same conversation."""

    inbound: bool
    text: str
    parent: int | None
    delay_minutes: int  # after the tweet it answers (after the conversation start for the first)


def conversation(rng: random.Random, customer: str, brand: str) -> list[Tweet]:
    """A whole thread: question, answer(s), and up to three follow-up rounds."""
    topic = rng.choice(list(ph.QUESTIONS))
    mood = rng.choice(["plain", "plain", "casual", "typo", "angry", "polite", "context"])
    tweets = [Tweet(inbound=True, text=f"@{brand} {customer_question(rng, topic, mood)}", parent=None, delay_minutes=0)]
    answer_to = agent_answer(rng, tweets, 0, customer, topic, angry=mood == "angry")
    if rng.random() < 0.06:  # a second agent answers the same tweet: the log holds a tree, not a chain
        agent_answer(rng, tweets, 0, customer, topic, angry=False)
    for round_ in range(3):  # follow-up rounds, each less likely than the last
        if rng.random() > 0.85 - 0.2 * round_:
            break
        answer_to = _follow_up(rng, tweets, answer_to, customer, brand, topic)
        if answer_to is None:
            break
    return tweets


def _follow_up(
    rng: random.Random, tweets: list[Tweet], parent: int, customer: str, brand: str, topic: str
) -> int | None:
    """The customer answers back: thanks (maybe acknowledged; the thread ends), or another question.

    Returns the index of the agent's answer to the new question, or ``None`` when the thread is over.
    """
    if rng.random() < 0.3:
        thanks = f"@{brand} {rng.choice(ph.THANKS)}"
        tweets.append(Tweet(inbound=True, text=thanks, parent=parent, delay_minutes=rng.randint(1, 40)))
        if rng.random() < 0.6:
            welcome = f"@{customer} {rng.choice(ph.WELCOMES)} ^{rng.choice(ph.AGENT_INITIALS)}"
            tweets.append(Tweet(inbound=False, text=welcome, parent=len(tweets) - 1, delay_minutes=rng.randint(2, 60)))
        return None
    other = rng.choice([t for t in ph.QUESTIONS if t != topic])
    question = rng.choice(ph.FOLLOW_UP_LEADS) + fill(rng, rng.choice(ph.QUESTIONS[other]))
    tweets.append(Tweet(inbound=True, text=f"@{brand} {question}", parent=parent, delay_minutes=rng.randint(1, 40)))
    return agent_answer(rng, tweets, len(tweets) - 1, customer, other, angry=False)


def fill(rng: random.Random, template: str) -> str:
    """A template with its slots filled by invented items, places and personal details."""
    name = rng.choice(ph.FIRST_NAMES)
    return template.format(
        item=rng.choice(ph.ITEMS),
        city=rng.choice(ph.CITIES),
        country=rng.choice(ph.COUNTRIES),
        order=rng.choice(["order #", "order ", "#CL", "order no. "]) + str(rng.randint(1_000_000, 9_999_999)),
        email=f"{name}.{rng.choice('abcdefghkmrst')}{rng.randint(10, 99)}@{rng.choice(ph.EMAIL_DOMAINS)}",
    )


def customer_question(rng: random.Random, topic: str, mood: str) -> str:
    """A question on ``topic`` in the given mood: how customers really write, not how a FAQ does."""
    text = fill(rng, rng.choice(ph.QUESTIONS[topic]))
    if mood == "casual":
        return text.lower().rstrip("?.!")
    if mood == "typo":
        return _typo(rng, text)
    if mood == "angry":
        return f"{rng.choice(ph.ANGRY_PREFIXES)} {text} {rng.choice(['😡', '', '!!', '🙄'])}".strip()
    if mood == "polite":
        return rng.choice(ph.POLITE_PREFIXES) + text[0].upper() + text[1:] + rng.choice(ph.POLITE_SUFFIXES)
    if mood == "context":
        return f"{rng.choice(ph.CONTEXT_SENTENCES)} {text[0].upper()}{text[1:]}"
    return text[0].upper() + text[1:]


def _typo(rng: random.Random, text: str) -> str:
    """Swap two letters in one longer word, the commonest slip on a phone keyboard."""
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_words:
        return text
    i = rng.choice(long_words)
    j = rng.randrange(len(words[i]) - 1)
    w = words[i]
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def agent_answer(
    rng: random.Random, tweets: list[Tweet], parent: int, customer: str, topic: str, *, angry: bool
) -> int:
    """Append the agent's answer (one tweet, or two marked 1/2 and 2/2) and return the last one's index."""
    parts = [rng.choice(ph.GREETINGS)]
    if angry:
        parts.append(rng.choice(ph.APOLOGIES))
    parts.append(rng.choice(ph.ANSWERS[topic]))
    if topic in ORDER_TOPICS and rng.random() < 0.4:
        parts.append(rng.choice(ph.ORDER_ASKS))
    body = " ".join(p for p in parts if p)
    sign = f"^{rng.choice(ph.AGENT_INITIALS)}"
    delay = rng.randint(2, 180)
    if len(body) + len(customer) + 8 <= TWEET_LIMIT and rng.random() > 0.08:
        tweets.append(Tweet(inbound=False, text=f"@{customer} {body} {sign}", parent=parent, delay_minutes=delay))
        return len(tweets) - 1
    first, second = _split(body)
    tweets.append(Tweet(inbound=False, text=f"@{customer} {first} 1/2", parent=parent, delay_minutes=delay))
    second_text = f"@{customer} {second} 2/2 {sign}"
    tweets.append(Tweet(inbound=False, text=second_text, parent=len(tweets) - 1, delay_minutes=1))
    return len(tweets) - 1


def _split(body: str) -> tuple[str, str]:
    """Cut an answer in two at the sentence end nearest its middle (at a space if it is one sentence)."""
    cuts = [i + 1 for i, ch in enumerate(body[:-1]) if ch in ".!?" and body[i + 1] == " "]
    cuts = cuts or [i for i, ch in enumerate(body) if ch == " "]
    cut = min(cuts, key=lambda i: abs(i - len(body) // 2))
    return body[:cut].strip(), body[cut:].strip()
