"""CLI commands of the server stage."""

from caretune.cli.app import app  # noqa: F401
