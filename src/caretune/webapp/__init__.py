"""The chat app's pages: static files only (no CDN, no build step), served by ``caretune serve`` at ``/``.

Its API is the server's (``caretune.server``: ``routes/conversations.py`` and the OpenAI routes it calls).
"""

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
