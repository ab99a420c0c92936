"""Exports load where they are meant to and compute what the fine-tuned model computes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from caretune.engines import SamplingParams, load_engine

PROMPT = "Customer: can I get a refund for my jacket\nAgent:"
GREEDY = SamplingParams(temperature=0, max_tokens=24)


def _greedy_text(engine) -> str:
    try:
        return engine.complete(PROMPT, GREEDY).choices[0].text
    finally:
        engine.close()


def _export(run: Path, fmt: str, *extra: str) -> Path:
    from caretune.cli import app

    result = CliRunner().invoke(app, ["export", str(run), "--format", fmt, *extra])
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def test_lora_gguf_has_llama_cpp_metadata_names_and_shapes(tiny_llama_run: Path) -> None:
    import gguf

    path = _export(tiny_llama_run, "gguf-lora")
    assert path == tiny_llama_run / "export" / "adapter.gguf"
    reader = gguf.GGUFReader(path)
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields["general.architecture"] == "llama"
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    assert fields["adapter.lora.alpha"] == 8.0
    tensors = {t.name: tuple(int(x) for x in t.shape) for t in reader.tensors}
    assert len(tensors) == 2 * 7 * 2  # A and B, 7 projections, 2 layers
    assert tensors["blk.0.attn_q.weight.lora_a"] == (64, 4)  # ggml order: (in, r)
    assert tensors["blk.0.attn_q.weight.lora_b"] == (4, 64)  # (r, out)
    assert tensors["blk.1.ffn_down.weight.lora_a"] == (128, 4)
    assert tensors["blk.1.attn_k.weight.lora_b"] == (4, 32)  # 2 kv heads x 16


@pytest.mark.parametrize("run_fixture", ["tiny_llama_run", "tiny_gemma_run"])
def test_merged_gguf_matches_transformers_greedy_exactly(run_fixture: str, request: pytest.FixtureRequest) -> None:
    run = request.getfixturevalue(run_fixture)
    path = _export(run, "gguf", "--dtype", "f32")
    assert path == run / "export" / "model.gguf"
    assert _greedy_text(load_engine(path, engine="llamacpp")) == _greedy_text(load_engine(run, engine="transformers"))


def test_gemma_base_plus_adapter_in_llama_cpp_matches_transformers(tiny_gemma_run: Path) -> None:
    llamacpp = load_engine(tiny_gemma_run, engine="llamacpp", base_dtype="f32")
    assert llamacpp.lora_path is not None
    assert _greedy_text(llamacpp) == _greedy_text(load_engine(tiny_gemma_run, engine="transformers"))


def test_merged_hf_dir_serves_the_fine_tuned_model(tiny_llama_run: Path, tmp_path: Path) -> None:
    path = _export(tiny_llama_run, "hf", "--out", str(tmp_path / "merged"))
    assert (path / "config.json").is_file() and (path / "tokenizer.json").is_file()
    assert not (path / "adapter_config.json").exists()
    assert _greedy_text(load_engine(path, engine="transformers")) == _greedy_text(
        load_engine(tiny_llama_run, engine="transformers")
    )


def test_export_refuses_what_is_not_a_run(tiny_llama_dir: Path) -> None:
    from caretune.cli import app

    result = CliRunner().invoke(app, ["export", str(tiny_llama_dir), "--format", "gguf-lora"])
    assert result.exit_code != 0
    bad = CliRunner().invoke(app, ["export", str(tiny_llama_dir), "--format", "onnx"])
    assert bad.exit_code != 0
