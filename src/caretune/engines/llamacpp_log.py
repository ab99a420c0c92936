"""llama.cpp's own log: kept out of the terminal, and brought back when a load fails.

llama.cpp writes hundreds of lines per load to stderr, some at ERROR level for harmless things (each LoRA
tensor that "cannot use buft 'CPU_REPACK'", a "control-looking token" in Gemma's vocabulary). They drowned
`caretune ask` and `caretune chat`, and llama-cpp-python's own switch only silences levels below ERROR.
Every line goes to the Python logger ``caretune.llamacpp`` instead (DEBUG), and the last lines are kept so
that an error about a failed load can say what llama.cpp said. Some figures llama.cpp reports only there
(the memory it gave the KV cache), and ``watching`` collects the lines that carry them.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("caretune.llamacpp")
_recent: deque[str] = deque(maxlen=50)
_callback: object | None = None  # the ctypes callback; kept referenced so it is not garbage collected
_local = threading.local()  # this thread's watches: [(marker, lines seen)]


def capture() -> None:
    """Route llama.cpp's log to ``log`` for the rest of the process (idempotent)."""
    global _callback
    if _callback is not None:
        return
    import llama_cpp

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", errors="replace").rstrip()
        if line:
            _recent.append(line)
            log.debug(line)
            for marker, seen in getattr(_local, "watches", ()):
                if marker in line:
                    seen.append(line)

    _callback = on_log
    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))


def recent(lines: int = 3) -> str:
    """The last ``lines`` lines llama.cpp logged, for an error message ('' if none)."""
    return " | ".join(list(_recent)[-lines:])


@contextmanager
def watching(marker: str) -> Iterator[list[str]]:
    """The lines holding ``marker`` that llama.cpp logs inside the block from this thread (it logs a load
    from the thread that asked for it, so another thread's load does not mix in)."""
    seen: list[str] = []
    watch = (marker, seen)
    _local.watches = [*getattr(_local, "watches", ()), watch]
    try:
        yield seen
    finally:
        _local.watches = [w for w in _local.watches if w is not watch]
