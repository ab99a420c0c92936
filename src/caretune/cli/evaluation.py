"""CLI commands of the evaluation stage."""

from caretune.cli.app import app  # noqa: F401
