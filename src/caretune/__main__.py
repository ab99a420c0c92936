"""``python -m caretune`` runs the CLI, which is what ``accelerate launch -m caretune train ...`` needs."""

from caretune.cli import main

main()
