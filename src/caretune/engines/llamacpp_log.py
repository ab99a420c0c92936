"""llama.cpp's own log: kept out of the terminal, and brought back when a load fails.

llama.cpp writes hundreds of lines per load to stderr, some at ERROR level for harmless things (each LoRA
tensor that "cannot use buft 'CPU_REPACK'", a "control-looking token" in Gemma's vocabulary). They drowned
`caretune ask` and `caretune chat`, and llama-cpp-python's own switch only silences levels below ERROR.
Every line goes to the Python logger ``caretune.llamacpp`` instead (DEBUG), and the last lines are kept so
that an error about a failed load can say what llama.cpp said.
"""

from __future__ import annotations

import ctypes
import logging
from collections import deque

log = logging.getLogger("caretune.llamacpp")
_recent: deque[str] = deque(maxlen=50)
_callback: object | None = None  # the ctypes callback; kept referenced so it is not garbage collected


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

    _callback = on_log
    llama_cpp.llama_log_set(on_log, ctypes.c_void_p(0))


def recent(lines: int = 3) -> str:
    """The last ``lines`` lines llama.cpp logged, for an error message ('' if none)."""
    return " | ".join(list(_recent)[-lines:])
