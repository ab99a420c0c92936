#!/usr/bin/env bash
# The README's test command: set up (if needed) and run the test suite.
# The default suite uses tiny random models and finishes in minutes. Tests marked `gemma` run the real
# Gemma 3 270M end to end; they run too when CARETUNE_GEMMA_TESTS=1 (CI sets it when they fit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
venv="${CARETUNE_VENV:-.venv}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
"$venv/bin/python" -m pytest -m "not gemma" "$@"
if [ "${CARETUNE_GEMMA_TESTS:-0}" = 1 ]; then
  "$venv/bin/python" -m pytest -m gemma "$@"
fi
