"""CLI commands of the server stage: ``caretune serve`` and ``caretune keys create|list|revoke|usage``.

Their options are ``ServerSettings``' fields (``keys`` takes the two that say where the database is), and
``keys create``'s are also ``KeySpec``'s, the body of ``POST /v1/keys``.
"""

from __future__ import annotations

import typer

from caretune.cli.app import app
from caretune.cli.options import Cli, config_command
from caretune.server.settings import ServerSettings
from caretune.storage.keys import KeySpec

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


def _split_commas(values: list[str] | None) -> list[str] | None:
    """``--models a,b --models c`` → ``[a, b, c]``."""
    return [name for value in values or () for name in value.split(",") if name.strip()] or None


@keys_app.command("create")
@config_command(ServerSettings, fields=_DATABASE)
@config_command(KeySpec, cli={"models": Cli(names=("--models",), convert=_split_commas)})
def keys_create(spec: KeySpec, settings: ServerSettings) -> None:
    """Create a key and print it once (only its hash is stored).

    admin: everything; agent: the agent view; app: chat and completions on its models for its customers."""
    from caretune.storage.audit import record
    from caretune.storage.keys import create_key

    with _key_sessions(settings)() as session:
        row, secret = create_key(session, spec)
        record(session, "key.created", row.id, None, "cli", {"role": row.role, "name": row.name})
    typer.echo(secret)
    typer.echo(f"created {row.id}, role {row.role} (shown once: store it now)", err=True)


@keys_app.command("list")
@config_command(ServerSettings, fields=_DATABASE)
def keys_list(settings: ServerSettings) -> None:
    """List keys: id, prefix, name, role, limits, created, and revoked (if so)."""
    from caretune.storage.keys import list_keys

    with _key_sessions(settings)() as session:
        for row in list_keys(session):
            revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
            typer.echo("\t".join([
                row.id, f"{row.display_prefix}…", row.name or "-", row.role, _limits(row.spec()),
                f"{row.created_at:%Y-%m-%d %H:%M}", revoked,
            ]))


def _limits(spec: KeySpec) -> str:
    """A key's models and limits in a few words ("-": none)."""
    parts = [
        f"models={','.join(spec.models)}" if spec.models else "",
        f"rate={spec.rate_limit}" if spec.rate_limit else "",
        f"tokens/day={spec.tokens_per_day}" if spec.tokens_per_day else "",
    ]
    return " ".join(p for p in parts if p) or "-"


@keys_app.command("revoke")
@config_command(ServerSettings, fields=_DATABASE)
def keys_revoke(settings: ServerSettings, key_id: str = typer.Argument(..., help="The key's id, from `keys list`.")) -> None:
    """Revoke a key: requests using it get 401 from now on."""
    from caretune.errors import InputError
    from caretune.storage.audit import record
    from caretune.storage.keys import revoke_key

    with _key_sessions(settings)() as session:
        if revoke_key(session, key_id) is None:
            raise InputError(f"no API key with id {key_id!r} (see `caretune keys list`)")
        record(session, "key.revoked", key_id, None, "cli")
    typer.echo(f"revoked {key_id}")


@keys_app.command("usage")
@config_command(ServerSettings, fields=_DATABASE)
def keys_usage(
    settings: ServerSettings,
    days: int = typer.Option(30, min=1, help="The last DAYS UTC days, today included."),
    key_id: str | None = typer.Option(None, "--key", help="Only this key's use (its id, from `keys list`)."),
) -> None:
    """Requests and tokens per key, model and UTC day (a running server stores its counts every second)."""
    from datetime import datetime, timedelta, timezone

    from caretune.storage.keys import list_keys
    from caretune.storage.usage import usage_since

    since = datetime.now(timezone.utc).date() - timedelta(days=days - 1)
    with _key_sessions(settings)() as session:
        names = {row.id: row.name for row in list_keys(session)}
        rows = usage_since(session, since, key_id)
    typer.echo("day\tkey\tname\tmodel\trequests\tprompt_tokens\tcompletion_tokens")
    for row in rows:
        typer.echo("\t".join(str(v) for v in (
            row.day, row.key_id, names.get(row.key_id) or "-", row.model, row.requests, row.prompt_tokens,
            row.completion_tokens,
        )))
