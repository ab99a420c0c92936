"""Generate the demo support log: ``python -m caretune.data.demo.generate --out FILE --seed N``.

The shipped ``demo_twcs.csv`` is this module's output with the defaults; a test regenerates it and compares
bytes, so the data and its generator cannot drift apart. Output is a TWCS-shaped CSV (the columns and quirks
of Kaggle's ``twcs.csv``), so the demo goes through exactly the path a real support log does.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated

import typer

from caretune.data.demo.dialogues import Tweet, conversation
from caretune.data.demo.policies import COMPANY
from caretune.data.twcs_writer import TWCS_TIME_FORMAT, write_twcs_csv

DEFAULT_SEED = 2026
DEFAULT_CONVERSATIONS = 2500
_FIRST_TWEET_ID = 100_001
_START = datetime(2025, 9, 1, tzinfo=timezone.utc)
_SPAN_MINUTES = 120 * 24 * 60


def demo_rows(seed: int = DEFAULT_SEED, n_conversations: int = DEFAULT_CONVERSATIONS) -> list[dict]:
    """All tweets of ``n_conversations`` conversations as TWCS rows; the same seed gives the same rows."""
    rng = random.Random(seed)
    customers = rng.sample(range(100_000, 1_000_000), n_conversations)
    rows: list[dict] = []
    for customer in customers:
        tweets = conversation(rng, str(customer), COMPANY.handle)
        start = _START + timedelta(minutes=rng.randrange(_SPAN_MINUTES), seconds=rng.randrange(60))
        rows += _thread_rows(tweets, str(customer), _FIRST_TWEET_ID + len(rows), start)
    return rows


def _thread_rows(tweets: list[Tweet], customer: str, first_id: int, start: datetime) -> list[dict]:
    """One conversation's tweets as rows with ids, times and the reply links both ways, as the dump has them."""
    ids = [first_id + i for i in range(len(tweets))]
    times: list[datetime] = []
    for t in tweets:
        base = start if t.parent is None else times[t.parent]
        times.append(base + timedelta(minutes=t.delay_minutes))
    return [
        {
            "tweet_id": ids[i],
            "author_id": customer if t.inbound else COMPANY.handle,
            "inbound": t.inbound,
            "created_at": times[i].strftime(TWCS_TIME_FORMAT),
            "text": t.text,
            "response_tweet_id": ",".join(str(ids[j]) for j, c in enumerate(tweets) if c.parent == i),
            # the real file writes parent ids as floats ("119237.0"); readers must cope, so the demo does too
            "in_response_to_tweet_id": f"{ids[t.parent]}.0" if t.parent is not None else None,
        }
        for i, t in enumerate(tweets)
    ]


def generate(out: Path, seed: int = DEFAULT_SEED, n_conversations: int = DEFAULT_CONVERSATIONS) -> Path:
    """Write the demo support log to ``out``."""
    return write_twcs_csv(demo_rows(seed, n_conversations), out)


def main(
    out: Annotated[Path, typer.Option(help="Where to write the CSV.")],
    seed: Annotated[int, typer.Option(help="RNG seed; the shipped file uses the default.")] = DEFAULT_SEED,
    conversations: Annotated[int, typer.Option(min=1, help="How many conversations.")] = DEFAULT_CONVERSATIONS,
) -> None:
    """Generate the Cairnline Outfitters demo support log (TWCS CSV)."""
    path = generate(out, seed, conversations)
    typer.echo(f"wrote {path}")


if __name__ == "__main__":
    typer.run(main)
