"""CLI commands of the feedback stage: ``caretune feedback export``, the loop from the chat app to training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caretune.cli.app import app
from caretune.cli.options import config_command
from caretune.errors import CaretuneError
from caretune.server.settings import ServerSettings

feedback_app = typer.Typer(help="Turn the chat app's judged replies into training data.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
@config_command(ServerSettings, fields=("database_url", "data_dir"))
def export(
    settings: ServerSettings,
    out: Annotated[Path, typer.Option("--out", help="The chat-format JSONL file to write.")],
) -> None:
    """Write approved, corrected and agent-written replies as chat-format JSONL that `caretune train` accepts.

    It reads the database of `caretune serve` with the same --database-url / --data-dir."""
    text = _read_feedback(settings.resolved_database_url())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {len(text.splitlines())} examples to {out}")


def _read_feedback(url: str) -> str:
    """The export as JSONL; a database that cannot be opened is the user's error, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from caretune.server.serving_feedback import feedback_jsonl
    from caretune.storage.db import create_all, make_engine, session_factory

    try:
        engine = make_engine(url)
        create_all(engine)
        with session_factory(engine)() as session:
            text = feedback_jsonl(session)
        engine.dispose()
    except SQLAlchemyError as exc:
        raise CaretuneError(f"cannot read the database {url}: {exc}") from exc
    return text
