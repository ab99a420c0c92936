"""The root Typer application every stage's CLI module registers its subcommands on."""

import typer

app = typer.Typer(
    name="caretune",
    help=(
        "Turn your own customer-support conversations into a self-hosted support chatbot.\n\n"
        "Typical flow: caretune prepare -> caretune validate -> caretune train -> caretune serve / chat "
        "-> caretune eval."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
