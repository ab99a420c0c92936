"""Loaded inference engines: loaded on first use, the least recently used dropped past a limit, and a
per-model cap on requests in flight (past it: 429, so an overloaded server says so instead of timing out).

A request for a model that is not loaded waits for the load (one load per model at a time, however many
requests ask); it never fails because the model was not ready. An engine that leaves the pool is closed
(its memory freed; fine-tunes sharing its base keep serving) once the requests holding its model's slots
have finished.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from caretune.engines.base import Engine
from caretune.server.catalog import ServedModel
from caretune.server.errors import Overloaded


class EnginePool:
    """Up to ``capacity`` engines in memory, most recently used last."""

    def __init__(
        self, capacity: int, engine_kind: str, max_in_flight: int, threads: int | None = None, **options
    ) -> None:
        self._capacity = capacity
        self._engine_kind = engine_kind
        self._threads = threads
        self._options = options  # more of ``load_engine``'s options: the prompt cache's, prompt lookup's
        self._max_in_flight = max_in_flight
        self._loaded: OrderedDict[str, Engine] = OrderedDict()
        self._load_locks: dict[str, threading.Lock] = {}
        self._in_flight: dict[str, int] = {}
        self._leaving: dict[str, list[Engine]] = {}  # evicted engines waiting for their model's requests
        self._lock = threading.Lock()

    def loaded_engines(self) -> list[tuple[str, Engine]]:
        """The engines in memory with their model ids, least recently used first."""
        with self._lock:
            return list(self._loaded.items())

    def in_flight(self) -> dict[str, int]:
        """Requests holding a slot, by model (every model asked for since the start, 0 when idle)."""
        with self._lock:
            return dict(self._in_flight)

    def loaded(self, model_id: str) -> Engine | None:
        """The engine if it is in memory (marked most recently used), else None: never blocks on a load."""
        with self._lock:
            engine = self._loaded.get(model_id)
            if engine is not None:
                self._loaded.move_to_end(model_id)
            return engine

    def get(self, model: ServedModel) -> Engine:
        """The engine for ``model``, loading it (blocking) if needed; marks it most recently used."""
        with self._lock:
            load_lock = self._load_locks.setdefault(model.id, threading.Lock())
        with load_lock:
            with self._lock:
                if model.id in self._loaded:
                    self._loaded.move_to_end(model.id)
                    return self._loaded[model.id]
            engine = self._load(model)
            with self._lock:
                self._loaded[model.id] = engine
                while len(self._loaded) > self._capacity:
                    self._leave(*self._loaded.popitem(last=False))
                closing = self._idle_leaving()
            _close(closing)
            return engine

    def evict(self, model_id: str) -> None:
        """Forget a model's engine (a deleted fine-tune); requests still using it finish normally."""
        with self._lock:
            if model_id in self._loaded:
                self._leave(model_id, self._loaded.pop(model_id))
            closing = self._idle_leaving()
        _close(closing)

    def _leave(self, model_id: str, engine: Engine) -> None:
        self._leaving.setdefault(model_id, []).append(engine)

    def _idle_leaving(self) -> list[Engine]:
        """Evicted engines whose model has no request in flight any more (taken out of ``_leaving``)."""
        idle = [model_id for model_id in self._leaving if not self._in_flight.get(model_id)]
        return [engine for model_id in idle for engine in self._leaving.pop(model_id)]

    def reserve(self, model_id: str) -> Slot:
        """Take one of the model's request slots (release it when the response is done); 429 if none is free."""
        with self._lock:
            if self._in_flight.get(model_id, 0) >= self._max_in_flight:
                raise Overloaded(
                    f"Too many requests in flight for model '{model_id}' (limit {self._max_in_flight}); "
                    "retry shortly.",
                    code="engine_queue_full",
                )
            self._in_flight[model_id] = self._in_flight.get(model_id, 0) + 1
        return Slot(self, model_id)

    def _release(self, model_id: str) -> None:
        with self._lock:
            self._in_flight[model_id] -= 1
            closing = self._idle_leaving()
        _close(closing)

    def _load(self, model: ServedModel) -> Engine:
        from caretune.engines import load_engine

        return load_engine(model.source, engine=self._engine_kind, n_threads=self._threads, **self._options)


def _close(engines: list[Engine]) -> None:
    """Close engines in a thread of their own: closing waits for the decode thread's current step, and a
    slot is released on the event loop."""
    if engines:
        threading.Thread(target=lambda: [engine.close() for engine in engines], name="caretune-unload").start()


class Slot:
    """A reserved request slot; releasing twice is harmless (a stream may end in more than one way)."""

    def __init__(self, pool: EnginePool, model_id: str) -> None:
        self._pool = pool
        self._model_id = model_id
        self._held = True

    def release(self) -> None:
        """Give the slot back."""
        if self._held:
            self._held = False
            self._pool._release(self._model_id)
