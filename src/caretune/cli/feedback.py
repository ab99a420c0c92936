"""CLI commands of the feedback stage."""

from caretune.cli.app import app  # noqa: F401
