"""The base-model registry: short names, local directories, and a clear error for anything else."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from caretune.errors import InputError
from caretune.models.registry import list_models, load_model, load_tokenizer, resolve


def test_registry_lists_the_default_base() -> None:
    assert "gemma-3-270m" in [m.name for m in list_models()]


def test_local_hf_directory_is_a_base(tiny_gemma_dir: Path) -> None:
    resolved = resolve(str(tiny_gemma_dir))
    assert resolved.hf_dir == tiny_gemma_dir and resolved.gguf_path is None
    model = load_model(str(tiny_gemma_dir))
    assert model.config.model_type == "gemma3_text"
    assert load_tokenizer(str(tiny_gemma_dir)).pad_token == "<pad>"


def test_unknown_base_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown base model"):
        resolve(str(tmp_path / "no-such-model"))


@pytest.mark.gemma
def test_gemma_converts_once_then_loads_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARETUNE_HOME", str(tmp_path))
    start = time.perf_counter()
    resolved = resolve("gemma-3-270m")
    convert_s = time.perf_counter() - start
    start = time.perf_counter()
    model = load_model("gemma-3-270m")
    cached_s = time.perf_counter() - start
    print(f"gemma-3-270m: first resolve (assemble + convert) {convert_s:.1f} s, cached load {cached_s:.1f} s")
    assert resolved.gguf_path is not None and resolved.gguf_path.is_file()
    assert getattr(model, "hf_quantizer", None) is None
    assert "quantization_config" not in (resolved.hf_dir / "config.json").read_text()
    assert cached_s < convert_s
