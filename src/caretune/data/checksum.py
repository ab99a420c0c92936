"""A data file's SHA-256: what names a file by its content, wherever it lies."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path) -> str:
    """The file's checksum, read in blocks: ``run.json`` says exactly what a run was trained on, and a past
    conversation is named by its file's content (``knowledge.documents.origin_of``)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
