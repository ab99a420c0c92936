"""Per-key limits and accounting: a request rate (token buckets) and a daily token budget, checked before a
request reaches an engine, and each key's use per model, counted in memory and stored in batches.

Both live in the server process (one process serves the API), so checking them costs no database round
trip; the counts reach the database within a second and at shutdown, where admins read them.

The budget holds under concurrency: before the engine runs, a request holds the most tokens it may use
(its prompt and ``max_tokens``) and is refused if they do not fit beside what the key used and what its
other running requests hold; when it ends, the hold gives way to what it really used.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from caretune.server.errors import RateLimited
from caretune.storage.keys import RateLimit
from caretune.storage.usage import Counts, add_usage, tokens_used

log = logging.getLogger(__name__)


def utc_today() -> date:
    """The day a daily budget counts in."""
    return datetime.now(timezone.utc).date()


def seconds_to_midnight() -> int:
    """Seconds until the next UTC day, when every daily budget starts again."""
    now = datetime.now(timezone.utc)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc)
    return max(1, int((tomorrow - now).total_seconds()) + 1)


def over_budget(message: str) -> RateLimited:
    """The 429 of a key whose tokens for the day are spent (or would be): it may again from midnight UTC."""
    return RateLimited(message, retry_after=seconds_to_midnight(), code="tokens_per_day_exceeded")


@dataclass(frozen=True)
class Hold:
    """Tokens of a key's daily budget held for a running request, on the day they were held."""

    key_id: str
    tokens: int
    day: date


class RateLimiter:
    """One token bucket per key: a key may send up to its limit at once, then at its rate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id → (tokens left, when counted)
        self._lock = threading.Lock()

    def wait_time(self, key_id: str, rate: RateLimit) -> float | None:
        """Take one request from the key's bucket; if it is empty, the seconds until it holds one again."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key_id, (float(rate.requests), now))
            tokens = min(float(rate.requests), tokens + (now - then) * rate.requests / rate.seconds)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return None
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) * rate.seconds / rate.requests


class UsageMeter:
    """Each key's requests and tokens per model: counted in memory as answers finish, added to the database
    by a background thread every ``interval`` seconds (and by ``flush``), and summed per UTC day for the
    token budget (today's sum is read from the database once per key and day, then kept up to date here),
    beside the tokens its running requests hold (``hold``)."""

    def __init__(self, sessions: sessionmaker[Session], interval: float = 1.0) -> None:
        self._sessions = sessions
        self._interval = interval
        self._pending: defaultdict[tuple[str, str, date], Counts] = defaultdict(Counts)
        self._today: dict[str, int] = {}  # key id → tokens used on ``self._day``
        self._held: defaultdict[str, int] = defaultdict(int)  # key id → tokens its running requests hold today
        self._day = utc_today()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()  # one writer at a time: rows are read, added to, written
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(
        self, key_id: str, model: str, prompt_tokens: int, completion_tokens: int, settles: Hold | None = None
    ) -> None:
        """Count one answered request of ``key_id`` on ``model``; the tokens it held (``settles``) are let go."""
        with self._lock:
            day = self._roll()
            self._pending[(key_id, model, day)].add(Counts(1, prompt_tokens, completion_tokens))
            if key_id in self._today:
                self._today[key_id] += prompt_tokens + completion_tokens
            if settles is not None:
                self._let_go(settles)

    async def check(self, key_id: str, budget: int) -> None:
        """A 429 when the key's tokens for today are spent or held (before a request is even looked at)."""
        if await self._spent(key_id) >= budget:
            raise over_budget(
                f"This key has used its {budget} tokens for today (UTC), or its running requests hold the rest; "
                "it can again from midnight UTC."
            )

    async def hold(self, key_id: str, tokens: int, budget: int) -> Hold:
        """Hold ``tokens`` (the most a request may use) of the key's budget for today, or a 429 if they do not
        fit beside what the key used and what its running requests hold."""
        await self._spent(key_id)
        with self._lock:
            day = self._roll()
            left = budget - self._today.get(key_id, 0) - self._held[key_id]
            if tokens > left:
                raise over_budget(
                    f"This request may use up to {tokens} tokens (its prompt and max_tokens), more than the "
                    f"{max(left, 0)} left of this key's {budget} for today (UTC): ask for fewer max_tokens, or "
                    "wait for the key's running requests to end or for midnight UTC."
                )
            self._held[key_id] += tokens
        return Hold(key_id, tokens, day)

    def release(self, hold: Hold) -> None:
        """Let go of a hold whose request counted nothing (it failed before its answer)."""
        with self._lock:
            self._let_go(hold)

    def _let_go(self, hold: Hold) -> None:
        """(caller holds the lock) A hold of an earlier day went with that day's sums."""
        if hold.day == self._roll():
            self._held[hold.key_id] -= hold.tokens

    async def _spent(self, key_id: str) -> int:
        """The tokens ``key_id`` used or holds today; the first look of the day reads the database in a worker
        thread (``load_today``). A day that turns between the two looks starts from what is known."""
        with self._lock:
            self._roll()
            used = self._today.get(key_id)
        if used is None:
            await run_in_threadpool(self.load_today, key_id)
        with self._lock:
            self._roll()
            return self._today.get(key_id, 0) + self._held[key_id]

    def load_today(self, key_id: str) -> int:
        """The tokens ``key_id`` has used today (UTC), stored and not yet stored; it reads the database, so
        it belongs in a worker thread (once per key and day)."""
        with self._flushing:  # no counts move from memory to the database while both are read
            with self._lock:
                day = self._roll()
            with self._sessions() as session:
                stored = tokens_used(session, key_id, day)
            with self._lock:
                if self._roll() == day and key_id not in self._today:
                    waiting = sum(c.prompt_tokens + c.completion_tokens for (k, _, d), c in self._pending.items()
                                  if k == key_id and d == day)
                    self._today[key_id] = stored + waiting
                return self._today.get(key_id, stored)

    def _roll(self) -> date:
        """Today; a new day forgets yesterday's sums and holds (caller holds the lock)."""
        today = utc_today()
        if today != self._day:
            self._day, self._today, self._held = today, {}, defaultdict(int)
        return today

    def flush(self) -> None:
        """Add the counts so far to the database (kept for the next try if the write fails)."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, defaultdict(Counts)
            if not batch:
                return
            try:
                with self._sessions() as session:
                    add_usage(session, batch)
            except SQLAlchemyError:
                log.exception("could not store key usage; keeping it for the next try")
                with self._lock:
                    for where, counts in batch.items():
                        self._pending[where].add(counts)

    def start(self) -> None:
        """Flush in the background until ``stop``."""
        self._thread = threading.Thread(target=self._run, name="caretune-usage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread and store what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
