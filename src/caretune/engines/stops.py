"""Stop sequences over streamed text: catch a stop split across tokens, never leak part of one.

Tokens do not line up with stop strings ("\\nCust" + "omer:"), so matching is done on text: whatever could
still turn out to be the start of a stop sequence is held back until the next delta settles it.
"""

from __future__ import annotations


class StopMatcher:
    """Feeds on text deltas, releases the text that is safe to show, and says when a stop was hit."""

    def __init__(self, stops: list[str]) -> None:
        self._stops = [s for s in stops if s]
        self._pending = ""
        self.stopped = False

    def push(self, delta: str) -> str:
        """Add generated text; return what can be shown now (everything before a stop, once it is found)."""
        if self.stopped:
            return ""
        self._pending += delta
        cut = self._first_stop()
        if cut is not None:
            self.stopped = True
            released, self._pending = self._pending[:cut], ""
            return released
        keep = self._held_back()
        released = self._pending[: len(self._pending) - keep]
        self._pending = self._pending[len(released) :]
        return released

    def flush(self) -> str:
        """Generation ended without a stop: whatever was held back is ordinary text after all."""
        released, self._pending = ("" if self.stopped else self._pending), ""
        return released

    def _first_stop(self) -> int | None:
        hits = [i for i in (self._pending.find(s) for s in self._stops) if i >= 0]
        return min(hits) if hits else None

    def _held_back(self) -> int:
        """Length of the longest tail of the pending text that is a proper prefix of some stop sequence."""
        best = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(self._pending)), best, -1):
                if self._pending.endswith(stop[:length]):
                    best = length
                    break
        return best
