#!/usr/bin/env bash
# Make (or reuse) the project's virtual environment and install caretune into it.
# Safe to run twice: it reinstalls only when pyproject.toml changed since the last install.
# Usage: scripts/setup.sh [EXTRA]   (EXTRA=dev also installs the test tools and Debian's Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-}"
venv="${CARETUNE_VENV:-.venv}"
py="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment in $venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
fi

stamp="$venv/.caretune-installed${extra:+-$extra}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing caretune${extra:+[$extra]} (torch 2.13.0 CPU; llama-cpp-python builds from source the first time, a few minutes)"
  # torch first and pinned, so nothing below can pull a CUDA build.
  "$venv/bin/pip" install -q "torch==2.13.0"
  "$venv/bin/pip" install -q -e ".${extra:+[$extra]}"
  echo "$want" > "$stamp"
fi

if [ "$extra" = "dev" ] && [ ! -x /usr/bin/chromium ]; then
  echo "[setup] installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null;
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi
