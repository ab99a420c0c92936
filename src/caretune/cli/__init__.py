"""Command-line entry point: ``caretune <subcommand>``.

Each stage keeps its commands in its own module here; importing the module registers them on the root app.
Heavy libraries (torch, transformers, llama.cpp) are imported inside the commands, so ``--help`` is instant.
"""

from __future__ import annotations

import sys

from caretune.cli.app import app
from caretune.errors import CaretuneError

# Importing registers the commands (order = order in --help).
from caretune.cli import data as _data  # noqa: F401,E402
from caretune.cli import validate as _validate  # noqa: F401,E402
from caretune.cli import knowledge as _knowledge  # noqa: F401,E402
from caretune.cli import training as _training  # noqa: F401,E402
from caretune.cli import inference as _inference  # noqa: F401,E402
from caretune.cli import server as _server  # noqa: F401,E402
from caretune.cli import feedback as _feedback  # noqa: F401,E402
from caretune.cli import evaluation as _evaluation  # noqa: F401,E402
from caretune.cli import demo as _demo  # noqa: F401,E402


def main() -> None:
    """Run the CLI, turning user-facing errors into a one-line message and a documented exit code."""
    try:
        app()
    except CaretuneError as exc:
        print(f"caretune: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
