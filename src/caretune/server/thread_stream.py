"""Run a blocking iterator (an engine's token stream) in its own thread and consume it asynchronously.

One thread per stream, handing items to the event loop as they come, costs one hop per token; fetching each
item through the thread pool would cost a pool round-trip per token, which shows in tokens/s. Closing the
async iterator (client gone) tells the thread to stop generating.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


async def stream_in_thread(make_iterator: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """Yield what ``make_iterator()`` yields, produced in a daemon thread; its exceptions re-raise here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[object, BaseException | None]] = asyncio.Queue()
    stop = threading.Event()

    def pump() -> None:
        iterator = make_iterator()
        try:
            for item in iterator:
                loop.call_soon_threadsafe(queue.put_nowait, (item, None))
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            loop.call_soon_threadsafe(queue.put_nowait, (_END, exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
        loop.call_soon_threadsafe(queue.put_nowait, (_END, None))

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
