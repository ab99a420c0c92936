#!/usr/bin/env bash
# Make (or reuse) the project's virtual environment and install caretune into it.
# Safe to run twice: it reinstalls only when pyproject.toml changed since the last install.
# Usage: scripts/setup.sh [EXTRA]   (EXTRA=dev also installs the test tools, Debian's Chromium, and the
# openai 0.28.1 SDK and CLI in a venv of their own, .venv-openai028, for the classic GPT-3 recipe's tests)
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

# llama.cpp comes as source from PyPI and is compiled here: only the libraries caretune calls (no multimodal
# library, and not the "common" library that llama-cpp-python forces on: scripts/llama-cpp-build.cmake), on
# every core, for this CPU but without its AMX kernels (they crash on machines whose CPU reports AMX that the
# kernel does not grant). The wheel is kept under CARETUNE_HOME, keyed by version and options, so another
# environment installs it instead of compiling again. The first time, everything else is installed while it
# compiles.
llama_spec="$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)"
no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
hook="$PWD/scripts/llama-cpp-build.cmake"
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DCMAKE_C_FLAGS='$no_amx' -DCMAKE_CXX_FLAGS='$no_amx' -DCMAKE_PROJECT_INCLUDE='$hook'}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
# The key holds the hook's text, not its path: every checkout shares one wheel.
key="$( (echo "$llama_spec ${CMAKE_ARGS//$hook/}"; cat "$hook") | sha256sum | cut -c1-12)"
wheels="${CARETUNE_HOME:-$HOME/.cache/caretune}/wheels/$key"

compile_llama() {
  echo "[setup] compiling $llama_spec once (a few minutes; kept in $wheels)"
  local start=$SECONDS log
  log="$(mktemp)"
  rm -rf "$wheels.partial"
  # Ninja's "[12/80]" lines become one progress line; the log's end is shown if the build fails.
  if ! "$venv/bin/pip" wheel -v --no-deps --no-cache-dir -w "$wheels.partial" "$llama_spec" 2>&1 | tee "$log" \
      | awk '/^ *\[[0-9]+\/[0-9]+\]/ { printf "\r[setup] compiling llama.cpp %s %ds ", $1, systime() - t0; fflush() }' \
        t0="$(date +%s)"; then
    echo; tail -n 60 "$log"; echo "[setup] the llama.cpp build failed; full log: $log" >&2; return 1
  fi
  mv "$wheels.partial" "$wheels"
  echo; echo "[setup] compiled llama.cpp in $((SECONDS - start)) s"
}

# caretune's dependencies (with EXTRA's), less llama-cpp-python: what can be installed while it compiles.
other_requirements() {
  "$venv/bin/python" - "$extra" <<'PY'
import re, sys
text = open("pyproject.toml", encoding="utf-8").read()
blocks = [r"^dependencies = \[(.*?)^\]"] + ([rf"^{sys.argv[1]} = \[(.*?)^\]"] if sys.argv[1] else [])
for block in blocks:
    for requirement in re.findall(r'^\s*"([^"]+)"', re.search(block, text, re.S | re.M).group(1), re.M):
        if not requirement.startswith("llama-cpp-python"):
            print(requirement)
PY
}

stamp="$venv/.caretune-installed${extra:+-$extra}"
want="$( (cat pyproject.toml; echo "$wheels") | sha256sum | cut -d' ' -f1)"
install=0
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then install=1; fi
compiling=""
if ! ls "$wheels"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  compile_llama & compiling=$!
fi
if [ "$install" = 1 ]; then
  echo "[setup] installing caretune${extra:+[$extra]} (torch 2.13.0 CPU)"
  # torch first and pinned, so nothing below can pull a CUDA build.
  "$venv/bin/pip" install -q "torch==2.13.0"
  if [ -n "$compiling" ]; then mapfile -t others < <(other_requirements); "$venv/bin/pip" install -q "${others[@]}"; fi
fi
if [ -n "$compiling" ]; then wait "$compiling" || exit 1; fi
if [ "$install" = 1 ]; then
  "$venv/bin/pip" install -q --force-reinstall --no-deps "$wheels"/llama_cpp_python-*.whl
  "$venv/bin/pip" install -q --find-links "$wheels" -e ".${extra:+[$extra]}"
  echo "$want" > "$stamp"
fi

if [ "$extra" = "dev" ] && [ ! -x /usr/bin/chromium ]; then
  echo "[setup] installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null;
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi

# The classic GPT-3 recipe's tests run the real openai 0.28.1 SDK and its CLI (with pandas, which its
# `openai tools fine_tunes.prepare_data` needs). It cannot share the main venv, whose openai is current.
old_sdk="${CARETUNE_OPENAI028_VENV:-.venv-openai028}"
if [ "$extra" = "dev" ] && [ ! -x "$old_sdk/bin/openai" ]; then
  echo "[setup] installing openai 0.28.1 (SDK and CLI) in $old_sdk"
  "$py" -m venv "$old_sdk"
  "$old_sdk/bin/pip" install -q "openai[datalib]==0.28.1"
fi
