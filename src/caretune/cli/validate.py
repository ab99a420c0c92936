"""CLI commands of the validate stage."""

from caretune.cli.app import app  # noqa: F401
