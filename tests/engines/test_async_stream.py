"""Reading blocking producers from an event loop: items in order, errors re-raised, a closed loop survived."""

from __future__ import annotations

import asyncio
import threading

import pytest

from caretune.engines.async_stream import LoopQueue, stream_in_thread


def test_stream_in_thread_yields_in_order_and_reraises_the_producers_error() -> None:
    def produce():
        yield from range(5)
        raise ValueError("producer broke")

    async def consume() -> list[int]:
        seen = []
        with pytest.raises(ValueError, match="producer broke"):
            async for item in stream_in_thread(produce):
                seen.append(item)
        return seen

    assert asyncio.run(consume()) == [0, 1, 2, 3, 4]


def test_a_consumer_that_stops_reading_stops_the_producer() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def produce():
        try:
            for i in range(10_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    async def take_two() -> None:
        stream = stream_in_thread(produce)
        assert [await anext(stream), await anext(stream)] == [0, 1]
        await stream.aclose()

    asyncio.run(take_two())
    assert closed.wait(5)
    assert len(produced) < 10_000


def test_loop_queue_hands_items_across_threads_and_drops_them_once_the_loop_is_closed() -> None:
    async def round_trip() -> tuple[LoopQueue[str], str]:
        queue: LoopQueue[str] = LoopQueue()
        threading.Thread(target=queue.put, args=("from a thread",)).start()
        return queue, await asyncio.wait_for(queue.get(), 5)

    queue, item = asyncio.run(round_trip())
    assert item == "from a thread"
    queue.put("after the loop closed")  # a decode thread finishing after shutdown must not die of it
