"""``caretune knowledge add|list|remove|search``: the knowledge base a bot answers from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from caretune.cli.app import app

knowledge_app = typer.Typer(
    help="Build the knowledge base a bot answers from: documents, FAQs and past resolved conversations.",
    no_args_is_help=True,
)
app.add_typer(knowledge_app, name="knowledge")

KbArgument = Annotated[Path, typer.Argument(help="The knowledge base: a directory (created by `add`).")]


@knowledge_app.command("add")
def add(
    kb: KbArgument,
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Markdown, text, HTML, FAQ CSV/JSONL (question, answer) or chat JSONL (past conversations); "
            "a directory adds every such file under it.",
            show_default=False,
        ),
    ],
) -> None:
    """Index files; an unchanged file is skipped, an edited one replaces its chunks."""
    from caretune.knowledge import KnowledgeBase

    result = KnowledgeBase(kb, create=True).add(files)
    for label, sources in (("added", result.added), ("replaced", result.replaced), ("unchanged", result.unchanged)):
        for source in sources:
            typer.echo(f"{label}\t{source}")
    typer.echo(f"{kb}: {result.chunks} chunks indexed")


@knowledge_app.command("list")
def list_documents(kb: KbArgument) -> None:
    """The indexed documents: source, chunks, when added, content hash."""
    from caretune.knowledge import KnowledgeBase

    for doc in KnowledgeBase(kb).documents():
        typer.echo(f"{doc.source}\t{doc.chunks} chunks\t{doc.added_at}\t{doc.sha256[:12]}")


@knowledge_app.command("remove")
def remove(
    kb: KbArgument, sources: Annotated[list[str], typer.Argument(help="Documents to forget, as `list` shows them.")]
) -> None:
    """Forget documents and their chunks."""
    from caretune.errors import InputError
    from caretune.knowledge import KnowledgeBase

    base = KnowledgeBase(kb)
    for source in sources:
        if not base.remove(source):
            raise InputError(f"no document {source!r} in this knowledge base (see `caretune knowledge list`)", kb)
        typer.echo(f"removed\t{source}")


@knowledge_app.command("search")
def search_command(
    kb: KbArgument,
    query: Annotated[str, typer.Argument(help="A customer's question.")],
    k: Annotated[int, typer.Option("-k", min=1, help="How many passages.")] = 3,
) -> None:
    """Show the passages an answer to QUERY would be given, with their scores."""
    from caretune.knowledge import KnowledgeBase, search

    for passage in search(KnowledgeBase(kb), query, k):
        typer.echo(f"{passage.score:.4f}\t{passage.title}\t({passage.source})\n\t{passage.text}")
