"""CLI commands of the inference stage."""

from caretune.cli.app import app  # noqa: F401
