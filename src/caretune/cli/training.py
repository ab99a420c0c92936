"""CLI commands of the training stage."""

from caretune.cli.app import app  # noqa: F401
