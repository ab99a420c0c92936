"""CLI commands of the server stage: ``caretune serve`` and ``caretune keys create|list|revoke``.

Their options are ``ServerSettings``' fields (``keys`` takes the two that say where the database is).
"""

from __future__ import annotations

import typer

from caretune.cli.app import app
from caretune.cli.options import Cli, config_command
from caretune.server.settings import ServerSettings

keys_app = typer.Typer(help="Manage the API keys the server accepts (stored hashed).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

_SERVE_CLI = {
    "no_auth": Cli(names=("--no-auth",)), "models": Cli(names=("--model",)), "aliases": Cli(names=("--alias",))
}
_DATABASE = ("database_url", "data_dir")


@app.command()
@config_command(ServerSettings, exclude=("org", "run_worker"), cli=_SERVE_CLI)
def serve(settings: ServerSettings) -> None:
    """Serve the OpenAI-compatible API (and the chat page at /)."""
    import uvicorn

    from caretune.server.app import create_app

    if settings.no_auth:
        typer.secho("WARNING: --no-auth: the API accepts requests without a key.", fg="yellow", err=True)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


def _key_sessions(settings: ServerSettings):  # -> sessionmaker
    from caretune.storage.db import create_all, make_engine, session_factory

    db = make_engine(settings.resolved_database_url())
    create_all(db)
    return session_factory(db)


@keys_app.command("create")
@config_command(ServerSettings, fields=_DATABASE)
def keys_create(
    settings: ServerSettings, name: str = typer.Option("", help="A label to recognise the key by in `keys list`.")
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    from caretune.storage.keys import create_key

    with _key_sessions(settings)() as session:
        row, secret = create_key(session, name)
    typer.echo(secret)
    typer.echo(f"created {row.id} (shown once: store it now)", err=True)


@keys_app.command("list")
@config_command(ServerSettings, fields=_DATABASE)
def keys_list(settings: ServerSettings) -> None:
    """List keys: id, prefix, name, created, and revoked (if so)."""
    from caretune.storage.keys import list_keys

    with _key_sessions(settings)() as session:
        for row in list_keys(session):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            typer.echo(f"{row.id}\t{row.display_prefix}…\t{row.name or '-'}\t{row.created_at:%Y-%m-%d %H:%M}\t{revoked}")


@keys_app.command("revoke")
@config_command(ServerSettings, fields=_DATABASE)
def keys_revoke(settings: ServerSettings, key_id: str = typer.Argument(..., help="The key's id, from `keys list`.")) -> None:
    """Revoke a key: requests using it get 401 from now on."""
    from caretune.errors import InputError
    from caretune.storage.keys import revoke_key

    with _key_sessions(settings)() as session:
        if revoke_key(session, key_id) is None:
            raise InputError(f"no API key with id {key_id!r} (see `caretune keys list`)")
    typer.echo(f"revoked {key_id}")
