"""CLI commands of the data stage."""

from caretune.cli.app import app  # noqa: F401
