"""Engine streams read from an event loop (the server) without blocking it.

Two ways, by what the engine offers. An engine whose own decode thread produces events hands each one
straight to the loop (`LoopQueue`): one hop per token. Any other blocking iterator runs in a thread of its
own (`stream_in_thread`), which costs a second hop per token but still no thread-pool round-trip per item
(that would show in tokens/s). Either way, a consumer that stops reading (client gone) tells the producer
to stop generating.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_END = object()


class LoopQueue(Generic[T]):
    """A queue that any thread puts into and one coroutine of the current event loop reads from.

    ``put`` has the same signature as ``queue.Queue.put``, so a producer thread need not know which kind of
    reader it serves. Puts after the loop has closed (a server shutting down mid-stream) are dropped: nobody is
    left to read them, and the producer thread must not die of it."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._caught_up = threading.Event()

    def put(self, item: T) -> None:
        """Hand ``item`` to the reader (thread-safe, never blocks)."""
        self._caught_up.clear()
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed
            pass

    async def get(self) -> T:
        """The next item, waiting for it without blocking the loop."""
        if self._queue.empty():
            self._caught_up.set()  # the reader has dealt with everything put so far
        return await self._queue.get()

    def wait_caught_up(self, timeout: float) -> None:
        """Block the producer until the reader has dealt with every item put so far (and come back for the
        next), or ``timeout`` seconds have passed."""
        self._caught_up.wait(timeout)


async def stream_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield what ``make_iterator()`` yields, produced in a daemon thread; its exceptions re-raise here."""
    queue: LoopQueue[tuple[object, BaseException | None]] = LoopQueue()
    stop = threading.Event()

    def pump() -> None:
        iterator = make_iterator()
        try:
            for item in iterator:
                queue.put((item, None))
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            queue.put((_END, exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        queue.put((_END, None))

    threading.Thread(target=pump, daemon=True, name="caretune-stream").start()
    try:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
