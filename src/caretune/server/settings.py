"""How a server is configured: one Pydantic model that `caretune serve` fills from its options.

Tests build the same object directly, so a server started from Python and one started from the CLI behave
the same.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from caretune.home import caretune_home
from caretune.storage.db import sqlite_url


def default_data_dir() -> Path:
    """Under CARETUNE_HOME (default ~/.cache/caretune), where every other cache of caretune lives."""
    return caretune_home() / "server"


class ServerSettings(BaseModel):
    """Everything `caretune serve` can be told."""

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: a SQLite file in data_dir.")
    no_auth: bool = False
    max_loaded_models: int = Field(2, ge=1)
    max_upload_mb: float = Field(512, gt=0)
    models: list[str] = Field(
        default_factory=list,
        description="Models to serve, each a registry name, a run dir / HF dir path, or NAME=PATH. "
        "Empty: every registered base model. Succeeded fine-tunes are always served.",
    )
    engine: str = Field("auto", description="Inference engine: auto, llamacpp or transformers.")
    threads: int | None = Field(None, ge=1, description="CPU threads per loaded model (default: the engine's).")
    max_queue: int = Field(64, ge=1, description="Requests waiting or running per model before a 429.")
    org: str = Field("caretune", description="The organisation part of fine-tuned model ids.")
    run_worker: bool = Field(True, description="Start the fine-tuning worker process with the server.")

    def resolved_database_url(self) -> str:
        """The database to use: the given URL, or ``caretune.db`` in the data dir."""
        return self.database_url or sqlite_url(self.data_dir / "caretune.db")
