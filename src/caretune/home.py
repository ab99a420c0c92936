"""Where caretune keeps what it builds once and reuses: converted base models, the server's data, caches."""

from __future__ import annotations

import os
from pathlib import Path


def caretune_home() -> Path:
    """``$CARETUNE_HOME``, else ``~/.cache/caretune``: one place to delete to start afresh."""
    return Path(os.environ.get("CARETUNE_HOME") or Path.home() / ".cache" / "caretune").expanduser()
