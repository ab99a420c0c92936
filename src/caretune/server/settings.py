"""How a server is configured: one Pydantic model that `caretune serve` fills from its options.

Tests build the same object directly, so a server started from Python and one started from the CLI behave
the same.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from caretune.engines.loading import (
    ENGINE_HELP,
    LORA_MODE_HELP,
    MERGED_UP_TO_MODELS,
    PROMPT_CACHE_DIR_HELP,
    PROMPT_CACHE_MB,
    PROMPT_CACHE_MB_HELP,
    PROMPT_LOOKUP,
    PROMPT_LOOKUP_HELP,
    THREADS_HELP,
    EngineName,
    LoraModeName,
)
from caretune.home import caretune_home
from caretune.runs.info import HandoffSettings, KnowledgeSettings


def default_data_dir() -> Path:
    """Under CARETUNE_HOME (default ~/.cache/caretune), where every other cache of caretune lives."""
    return caretune_home() / "server"


class ServerSettings(BaseModel):
    """Everything `caretune serve` can be told."""

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, description="Port to listen on.")
    database_url: str | None = Field(
        None, description="SQLAlchemy database URL (default: SQLite file in --data-dir; PostgreSQL URLs work too)."
    )
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the server keeps uploads, runs and (by default) its SQLite database.",
    )
    no_auth: bool = Field(False, description="Accept requests without an API key (announced).")
    max_loaded_models: int = Field(2, ge=1, description="Models kept in memory at once (least recently used go).")
    max_upload_mb: float = Field(512, gt=0, description="Largest accepted upload, in MB (413 above).")
    max_body_mb: float = Field(
        4, gt=0, description="Largest accepted JSON request body, in MB (413 above, before it is parsed)."
    )
    models: list[str] = Field(
        default_factory=list,
        description="Serve this model (registry name, run dir, HF dir, or NAME=PATH); repeatable.",
    )  # none: every registered base model; succeeded fine-tunes are always served
    knowledge: list[str] = Field(
        default_factory=list,
        description="MODEL=KB: answer as MODEL from the knowledge base KB (a directory made by `caretune "
        "knowledge add`, or one of this server's); repeatable. A run trained with one uses it unasked.",
    )
    handoff_threshold: list[str] = Field(
        default_factory=list,
        description="MODEL=T: below confidence T (0 to 1) MODEL hands the customer to a person instead of "
        "answering; repeatable. Default: the threshold `caretune eval --off-domain` wrote into its run.",
    )
    handoff_message: list[str] = Field(
        default_factory=list,
        description="MODEL=TEXT: what MODEL tells a customer it hands to a person; repeatable.",
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="NAME=MODEL: answer requests for NAME with MODEL (a base or a fine-tuned model id); repeatable.",
    )
    gpt3_aliases: bool = Field(
        True, description="Answer the GPT-3 names ada, babbage, curie and davinci with the default (first) base model."
    )  # so recipes written for OpenAI's GPT-3 models (``-m ada``, ``engine="davinci"``) run as written
    engine: EngineName = Field("auto", description=ENGINE_HELP)
    threads: int | None = Field(None, ge=1, description=THREADS_HELP)
    prompt_cache_mb: float = Field(PROMPT_CACHE_MB, ge=0, description=PROMPT_CACHE_MB_HELP)
    prompt_cache_dir: Path | None = Field(None, description=PROMPT_CACHE_DIR_HELP)
    prompt_lookup: int = Field(PROMPT_LOOKUP, ge=0, description=PROMPT_LOOKUP_HELP)
    lora_mode: LoraModeName = Field("auto", description=LORA_MODE_HELP)
    max_queue: int = Field(64, ge=1, description="Requests in flight per model before answering 429.")
    cors_origin: list[str] = Field(
        default_factory=list,
        description="Let web pages of this origin (https://shop.example.com) call the API; repeatable. "
        "Default: none, no CORS.",
    )
    org: str = Field("caretune", description="The organisation part of fine-tuned model ids.")
    run_worker: bool = Field(True, description="Start the fine-tuning worker process with the server.")

    @field_validator("aliases", "knowledge", "handoff_threshold", "handoff_message")
    @classmethod
    def _pairs(cls, options: list[str], info: ValidationInfo) -> list[str]:
        """Each option is a pair with both parts given (an alias NAME=MODEL, knowledge MODEL=KB, ...)."""
        form = {
            "aliases": "NAME=MODEL", "knowledge": "MODEL=KB", "handoff_threshold": "MODEL=T",
            "handoff_message": "MODEL=TEXT",
        }[info.field_name]
        for option in options:
            name, _, value = option.partition("=")
            if not name.strip() or not value.strip():
                raise ValueError(f"expected {form}, got {option!r}")
            if info.field_name == "handoff_threshold":
                HandoffSettings(threshold=value.strip())  # a number from 0 to 1, or a validation error
        return options

    def engine_lora_mode(self) -> str:
        """``--lora-mode`` as the engines take it: ``auto`` chooses by how many models may be loaded at once
        (merges do not share a base; docs/PERFORMANCE.md has the measurements)."""
        if self.lora_mode != "auto":
            return self.lora_mode
        return "merged" if self.max_loaded_models <= MERGED_UP_TO_MODELS else "adapter"

    def served_handoff(self) -> dict[str, dict]:
        """``--handoff-threshold`` and ``--handoff-message`` as model id → what they set over the run's own."""
        served: dict[str, dict] = {}
        for field, options in (("threshold", self.handoff_threshold), ("message", self.handoff_message)):
            for option in options:
                model, _, value = (part.strip() for part in option.partition("="))
                served.setdefault(model, {})[field] = float(value) if field == "threshold" else value
        return served

    @property
    def knowledge_dir(self) -> Path:
        """Where the knowledge bases made through the API live, one directory each."""
        return self.data_dir / "knowledge"

    def served_knowledge(self) -> dict[str, KnowledgeSettings]:
        """``--knowledge MODEL=KB`` as model id → knowledge settings (KB: a directory, else a server base's name)."""
        served = {}
        for option in self.knowledge:
            model, _, kb = (part.strip() for part in option.partition("="))
            path = Path(kb).expanduser()
            served[model] = KnowledgeSettings(path=str(path if path.is_dir() else self.knowledge_dir / kb))
        return served

    def resolved_database_url(self) -> str:
        """The database to use: the given URL, or ``caretune.db`` in the data dir."""
        from caretune.storage.db import sqlite_url

        return self.database_url or sqlite_url(self.data_dir / "caretune.db")
