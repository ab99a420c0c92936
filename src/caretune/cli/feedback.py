"""CLI commands of the feedback stage: ``caretune feedback export``, the loop from the chat app to training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caretune.cli.app import app
from caretune.errors import CaretuneError

feedback_app = typer.Typer(help="Turn the chat app's judged replies into training data.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="The chat-format JSONL file to write.")],
    database_url: Annotated[
        str | None,
        typer.Option(help="The server's database (SQLAlchemy URL); default: the one `caretune serve` uses."),
    ] = None,
) -> None:
    """Write approved, corrected and agent-written replies as chat-format JSONL that `caretune train` accepts."""
    text = _read_feedback(database_url)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {len(text.splitlines())} examples to {out}")


def _read_feedback(database_url: str | None) -> str:
    """The export as JSONL; a database that cannot be opened is the user's error, not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from caretune.server.settings import ServerSettings
    from caretune.storage.db import create_all, make_engine, session_factory
    from caretune.server.serving_feedback import feedback_jsonl

    url = database_url or ServerSettings().resolved_database_url()
    try:
        engine = make_engine(url)
        create_all(engine)
        with session_factory(engine)() as session:
            text = feedback_jsonl(session)
        engine.dispose()
    except SQLAlchemyError as exc:
        raise CaretuneError(f"cannot read the database {url}: {exc}") from exc
    return text
