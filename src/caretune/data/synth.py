"""Synthetic support logs shaped like Kaggle's ``twcs.csv``, of any size, for tests and benchmarks.

The real dump cannot ship with caretune and tests must not depend on it, yet the reader has to survive every
oddity of it. This generator reproduces those oddities on purpose: rows out of thread order, tweets with
several replies (tree threads), parent ids written as floats (``119237.0``), quoted commas and newlines, emoji,
HTML entities, t.co URLs, leading @mentions, agents' sign-offs, answers split in ``1/2`` ``2/2`` tweets,
consecutive customer tweets, replies to tweets absent from the file, unanswered questions, several brands,
and personal data (emails, phones, order numbers) for the anonymiser to find.

It is vectorised (numpy + polars), one pass per node of a handful of thread shapes, so the benchmark's 2.8
million rows take seconds, not minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from caretune.data.twcs_writer import TWCS_TIME_FORMAT, write_twcs_frame

BRANDS = ("AcmeHelp", "NimbusCares", "ParcelPal", "FizzMobile", "GlobexSupport", "RiverAirways")
_ABSENT_ID_OFFSET = 10**12  # parents of "orphan" replies live here: never a tweet id of the file

C, A = True, False  # inbound (customer) / outbound (agent)
ROOT, ABSENT = -1, -2  # parent markers in a shape: thread root, reply to a tweet absent from the file


@dataclass(frozen=True)
class _Node:
    """One tweet of a thread shape: its parent (index in the shape, ROOT or ABSENT), side and text kind."""

    parent: int
    inbound: bool
    kind: str


@dataclass(frozen=True)
class _Shape:
    """A thread shape and how often it occurs; the generator stamps out many threads of each shape."""

    name: str
    weight: float
    nodes: tuple[_Node, ...]

    def children(self, index: int) -> list[int]:
        """Indices of the nodes that reply to node ``index`` (several: the thread branches)."""
        return [j for j, node in enumerate(self.nodes) if node.parent == index]


SHAPES: tuple[_Shape, ...] = (
    _Shape("exchange", 0.30, (_Node(ROOT, C, "ask"), _Node(0, A, "answer"))),
    _Shape(
        "dialogue",
        0.18,
        (_Node(ROOT, C, "ask"), _Node(0, A, "answer"), _Node(1, C, "followup"), _Node(2, A, "answer")),
    ),
    _Shape("split_answer", 0.10, (_Node(ROOT, C, "ask"), _Node(0, A, "part1"), _Node(1, A, "part2"))),
    _Shape("double_ask", 0.08, (_Node(ROOT, C, "ask"), _Node(0, C, "followup"), _Node(1, A, "answer"))),
    _Shape("two_replies", 0.06, (_Node(ROOT, C, "ask"), _Node(0, A, "answer"), _Node(0, A, "answer"))),
    _Shape(
        "branching",
        0.06,
        (
            _Node(ROOT, C, "ask"),
            _Node(0, A, "answer"),
            _Node(1, C, "followup"),
            _Node(1, C, "followup"),
            _Node(2, A, "answer"),
            _Node(3, A, "answer"),
        ),
    ),
    _Shape("orphan_reply", 0.06, (_Node(ABSENT, C, "followup"), _Node(0, A, "answer"))),
    _Shape("unanswered", 0.08, (_Node(ROOT, C, "ask"),)),
    _Shape(
        "long",
        0.08,
        tuple(_Node(i - 1 if i else ROOT, i % 2 == 0, "answer" if i % 2 else "followup") for i in range(8)),
    ),
)

_ASKS = (
    "my order still hasn't arrived, it was due on Monday",
    "how do I reset my password? the link never comes",
    "I was charged twice for the same order 😡😡",
    "your app keeps crashing when I open it\nplease fix",
    "can I get a refund for a damaged item?",
    "what are your opening hours on Sunday?",
    "the delivery driver left my parcel in the rain &amp; now it's ruined",
    "hi, is there an outage in my area? no signal since 8am",
    'I can\'t log in to my account, it says "invalid password"',
    "why is my flight delayed again, 3rd time this month 🙄",
)
_FOLLOWUPS = (
    "still waiting, any update?",
    "I did that already, no luck",
    "ok thanks, will try",
    "it's iOS 11.1, on an iPhone 7",
    "thanks! that worked 🙏",
    "DM sent",
    "that's not good enough, I want my money back",
    "same problem again today &gt;:(",
)
_ANSWERS = (
    "Sorry to hear that! Please DM us your order number and we'll take a look.",
    "We can help. Which version of the app are you on?",
    "That's not the experience we want for you, we'd like to make this right.",
    "Refunds are possible within 30 days, just reply to your confirmation email.",
    "We're open 9am-6pm Monday to Saturday, and closed on Sundays.",
    "Please try restarting your device, then reinstall the app &amp; let us know.",
    "Thanks for reaching out, we're always happy to help. Send us a DM so we can look into this together.",
    "Our team is aware of an issue in your area, engineers are on it now.",
)
_PARTS = (
    (
        "To reset your password, go to Settings, then Account, then Reset password.",
        "If the email doesn't arrive, check your spam folder and let us know.",
    ),
    (
        "We've checked your order and it's with the courier now.",
        "It should arrive within 2 working days, you'll get a tracking link by email.",
    ),
)
_SIGNOFFS = (" ^JK", " /AB", " -CM", " ^RR", " ^MM", " -HP", "")
_EXTRAS = (
    " my email is jane.doe{n}@example.com",
    " call me on 555-{n3}-{n4}",
    " order #{n}",
    " https://t.co/{n}",
    " 🙏",
    "",
    "",
    "",
)


def generate_twcs(n_rows: int, seed: int = 0) -> pl.DataFrame:
    """Return ``n_rows`` TWCS-shaped tweets (the seven columns, as text) from ``seed``, rows shuffled."""
    rng = np.random.default_rng(seed)
    shape_of_thread = _choose_threads(n_rows, rng)
    frames = [
        _stamp_shape(shape, np.flatnonzero(shape_of_thread == s), _thread_starts(shape_of_thread), rng)
        for s, shape in enumerate(SHAPES)
        if (shape_of_thread == s).any()
    ]
    tweets = pl.concat(frames)
    tweets = tweets.with_columns(text=_texts(tweets, rng), created_at=_timestamps(tweets, rng))
    order = rng.permutation(tweets.height)
    return tweets[order].select(
        pl.col("tweet_id").cast(pl.String),
        pl.col("author_id"),
        pl.col("inbound"),
        pl.col("created_at"),
        pl.col("text"),
        pl.col("response_tweet_id"),
        pl.col("in_response_to_tweet_id"),
    )


def write_synthetic_twcs(path: str | Path, n_rows: int, seed: int = 0) -> Path:
    """Generate ``n_rows`` tweets and write them to ``path`` exactly as the real dump is written."""
    return write_twcs_frame(generate_twcs(n_rows, seed), path)


def _choose_threads(n_rows: int, rng: np.random.Generator) -> np.ndarray:
    """Pick a shape per thread so the sizes add up to exactly ``n_rows`` (single-tweet threads fill the rest)."""
    weights = np.array([s.weight for s in SHAPES])
    sizes = np.array([len(s.nodes) for s in SHAPES])
    mean_size = float((weights / weights.sum()) @ sizes)
    chosen = rng.choice(len(SHAPES), size=int(n_rows / mean_size) + 1, p=weights / weights.sum())
    fits = np.cumsum(sizes[chosen]) <= n_rows
    chosen = chosen[fits]
    filler = n_rows - int(sizes[chosen].sum())
    unanswered = next(i for i, s in enumerate(SHAPES) if len(s.nodes) == 1)
    return np.concatenate([chosen, np.full(filler, unanswered)]).astype(np.int64)


def _thread_starts(shape_of_thread: np.ndarray) -> np.ndarray:
    """The first tweet id of every thread: ids are consecutive within a thread, starting at 1."""
    sizes = np.array([len(s.nodes) for s in SHAPES])[shape_of_thread]
    return np.concatenate([[1], 1 + np.cumsum(sizes)[:-1]])


def _stamp_shape(shape: _Shape, threads: np.ndarray, starts: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """All tweets of the threads that have ``shape``: ids, reply links, author and what to say."""
    threads_frame = pl.DataFrame(
        {
            "thread": threads,
            "base": starts[threads],
            "brand": pl.Series(BRANDS).gather(rng.integers(0, len(BRANDS), size=threads.size)),
            # 15% of threads write parent ids as floats, as a pandas export does
            "floaty": rng.random(threads.size) < 0.15,
        }
    ).with_columns(customer=(pl.col("thread") + 100000).cast(pl.String))
    return pl.concat([threads_frame.select(_node_columns(shape, j)) for j in range(len(shape.nodes))])


def _node_columns(shape: _Shape, index: int) -> list[pl.Expr]:
    """The columns of node ``index`` of ``shape`` for every thread of that shape."""
    node = shape.nodes[index]
    side = (pl.col("customer"), pl.col("brand")) if node.inbound else (pl.col("brand"), pl.col("customer"))
    return [
        pl.col("thread"),
        pl.lit(_depth(shape, index)).alias("depth"),
        (pl.col("base") + index).alias("tweet_id"),
        side[0].alias("author_id"),
        pl.lit(node.inbound).alias("inbound"),
        pl.lit(node.kind).alias("kind"),
        side[1].alias("handle"),
        _replies(shape, index).alias("response_tweet_id"),
        _parent(node).alias("in_response_to_tweet_id"),
    ]


def _depth(shape: _Shape, index: int) -> int:
    """How many replies deep node ``index`` sits in its thread (drives the timestamps)."""
    parent = shape.nodes[index].parent
    return 0 if parent < 0 else 1 + _depth(shape, parent)


def _replies(shape: _Shape, index: int) -> pl.Expr:
    """``response_tweet_id``: the reply ids, comma-separated when the thread branches at this tweet."""
    children = shape.children(index)
    if not children:
        return pl.lit(None, dtype=pl.String)
    return pl.concat_str([(pl.col("base") + k).cast(pl.String) for k in children], separator=",")


def _parent(node: _Node) -> pl.Expr:
    """``in_response_to_tweet_id``: empty for a root, a float text for some threads, an absent id for orphans."""
    if node.parent == ROOT:
        return pl.lit(None, dtype=pl.String)
    ids = pl.col("thread") + _ABSENT_ID_OFFSET if node.parent == ABSENT else pl.col("base") + node.parent
    text = ids.cast(pl.String)
    return pl.when(pl.col("floaty")).then(text + ".0").otherwise(text)


def _pick(pool: tuple[str, ...], n: int, rng: np.random.Generator) -> pl.Series:
    """``n`` random entries of ``pool`` as a string Series (a gather, not a Python loop)."""
    return pl.Series(pool).gather(rng.integers(0, len(pool), size=n))


def _texts(tweets: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """The tweet texts: a leading @mention, a phrase for the node's kind, extras, and agents' sign-offs."""
    n = tweets.height
    kind = tweets["kind"]
    parts = rng.integers(0, len(_PARTS), size=n)
    body = (
        pl.when(kind == "ask")
        .then(_pick(_ASKS, n, rng))
        .when(kind == "followup")
        .then(_pick(_FOLLOWUPS, n, rng))
        .when(kind == "part1")
        .then(pl.Series([p[0] for p in _PARTS]).gather(parts) + " 1/2")
        .when(kind == "part2")
        .then(pl.Series([p[1] for p in _PARTS]).gather(parts) + " 2/2")
        .otherwise(_pick(_ANSWERS, n, rng))
    )
    number = pl.Series(rng.integers(10**7, 10**8, size=n)).cast(pl.String)
    extra = _pick(_EXTRAS, n, rng).str.replace("{n}", number, literal=True)
    extra = extra.str.replace("{n3}", number.str.slice(0, 3), literal=True).str.replace(
        "{n4}", number.str.slice(3, 4), literal=True
    )
    cc = pl.Series(np.where(rng.random(n) < 0.1, "@" + rng.integers(1000, 99999, size=n).astype(str) + " ", ""))
    inbound = tweets["inbound"]
    return tweets.select(
        pl.when(inbound)
        .then(pl.concat_str([pl.lit("@"), pl.col("handle"), pl.lit(" "), pl.lit(cc), body, pl.lit(extra)]))
        .otherwise(pl.concat_str([pl.lit("@"), pl.col("handle"), pl.lit(" "), body, pl.lit(_pick(_SIGNOFFS, n, rng))]))
    ).to_series()


def _timestamps(tweets: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """``created_at`` in Twitter's format: a random thread start in autumn 2017, minutes apart per reply."""
    n_threads = int(tweets["thread"].max()) + 1
    start = pl.Series(rng.integers(0, 60 * 86400, size=n_threads))
    seconds = start.gather(tweets["thread"]) + tweets["depth"] * pl.Series(rng.integers(30, 1800, size=tweets.height))
    return tweets.select(
        (pl.datetime(2017, 10, 1) + pl.duration(seconds=pl.lit(seconds))).dt.strftime(TWCS_TIME_FORMAT)
    ).to_series()
