"""Fixtures of the engine tests: engines loaded once per session (tests only read from them)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def hf_llama_run_engine(tiny_llama_run: Path):
    """The transformers engine on the tiny Llama run."""
    from caretune.engines import load_engine

    return load_engine(tiny_llama_run, engine="transformers")


@pytest.fixture(scope="session")
def llamacpp_llama_run_engine(tiny_llama_run: Path):
    """The llama.cpp engine on the same run: f32 base GGUF + the exported LoRA adapter GGUF."""
    from caretune.engines import load_engine

    engine = load_engine(tiny_llama_run, engine="llamacpp", base_dtype="f32")
    yield engine
    engine.close()
