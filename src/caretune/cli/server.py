"""CLI commands of the server stage: ``caretune serve`` and ``caretune keys create|list|revoke``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from caretune.cli.app import app
from caretune.cli.options import EngineOption, ThreadsOption

keys_app = typer.Typer(help="Manage the API keys the server accepts (stored hashed).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

_DATA_DIR_HELP = "Where the server keeps uploads, runs and (by default) its SQLite database."
_DB_HELP = "SQLAlchemy database URL (default: SQLite file in --data-dir; PostgreSQL URLs work too)."


def _settings(**options: object):  # -> caretune.server.settings.ServerSettings
    """Server settings from CLI options, leaving unset ones at their defaults."""
    from caretune.server.settings import ServerSettings

    return ServerSettings(**{k: v for k, v in options.items() if v is not None})


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    database_url: Optional[str] = typer.Option(None, help=_DB_HELP),
    data_dir: Optional[Path] = typer.Option(None, help=_DATA_DIR_HELP),
    no_auth: bool = typer.Option(False, "--no-auth", help="Accept requests without an API key (announced)."),
    max_loaded_models: int = typer.Option(2, help="Models kept in memory at once (least recently used go)."),
    max_upload_mb: float = typer.Option(512, help="Largest accepted upload, in MB (413 above)."),
    model: Optional[list[str]] = typer.Option(
        None, "--model", help="Serve this model (registry name, run dir, HF dir, or NAME=PATH); repeatable."
    ),
    engine: EngineOption = "auto",
    threads: ThreadsOption = None,
    max_queue: int = typer.Option(64, help="Requests in flight per model before answering 429."),
) -> None:
    """Serve the OpenAI-compatible API (and the chat page at /)."""
    import uvicorn

    from caretune.server.app import create_app

    settings = _settings(
        host=host, port=port, database_url=database_url, data_dir=data_dir, no_auth=no_auth,
        max_loaded_models=max_loaded_models, max_upload_mb=max_upload_mb, models=model or None,
        engine=engine, threads=threads, max_queue=max_queue,
    )
    if no_auth:
        typer.secho("WARNING: --no-auth: the API accepts requests without a key.", fg="yellow", err=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _key_sessions(database_url: Optional[str], data_dir: Optional[Path]):  # -> sessionmaker
    from caretune.storage.db import create_all, make_engine, session_factory

    db = make_engine(_settings(database_url=database_url, data_dir=data_dir).resolved_database_url())
    create_all(db)
    return session_factory(db)


@keys_app.command("create")
def keys_create(
    name: str = typer.Option("", help="A label to recognise the key by in `keys list`."),
    database_url: Optional[str] = typer.Option(None, help=_DB_HELP),
    data_dir: Optional[Path] = typer.Option(None, help=_DATA_DIR_HELP),
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from caretune.storage.keys import create_key

    with _key_sessions(database_url, data_dir)() as session:
        row, secret = create_key(session, name)
    typer.echo(secret)
    typer.echo(f"created {row.id} (shown once: store it now)", err=True)


@keys_app.command("list")
def keys_list(
    database_url: Optional[str] = typer.Option(None, help=_DB_HELP),
    data_dir: Optional[Path] = typer.Option(None, help=_DATA_DIR_HELP),
) -> None:
    """List keys: id, prefix, name, created, and revoked (if so)."""
    from caretune.storage.keys import list_keys

    with _key_sessions(database_url, data_dir)() as session:
        for row in list_keys(session):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            typer.echo(f"{row.id}\t{row.display_prefix}…\t{row.name or '-'}\t{row.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id, from `keys list`."),
    database_url: Optional[str] = typer.Option(None, help=_DB_HELP),
    data_dir: Optional[Path] = typer.Option(None, help=_DATA_DIR_HELP),
) -> None:
    """Revoke a key: requests using it get 401 from now on."""
    from caretune.errors import InputError
    from caretune.storage.keys import revoke_key

    with _key_sessions(database_url, data_dir)() as session:
        if revoke_key(session, key_id) is None:
            raise InputError(f"no API key with id {key_id!r} (see `caretune keys list`)")
    typer.echo(f"revoked {key_id}")
