"""A re-quantised merge is served only when its quality gate passed and still describes the files: a merge
that lost the fine-tune is refused, a stale one is ignored, and serving falls back to the runtime adapter."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caretune.engines import load_engine
from caretune.export.gate_record import GateThresholds, read_record, servable_merge
from caretune.runs import RunInfo
from caretune.runs.refs import resolve_ref
from tests.conftest import make_lora_run, synthetic_conversations, write_jsonl


# A random tiny model's greedy replies part at Q8's rounding far more often than a trained model's (identical
# for about one prompt in eight, while the same first choice is kept at about 96 % of the reply tokens), so
# the tests ask no identical replies; the defaults are set for Gemma.
TINY_LIMITS = GateThresholds(max_perplexity_increase=0.05, min_exact_agreement=0.0, min_token_agreement=0.9)
TINY_OPTIONS = [
    "--max-perplexity-increase", "0.05", "--min-exact-agreement", "0", "--min-token-agreement", "0.9",
]


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("held_out") / "valid.jsonl", synthetic_conversations(12, seed=5))


@pytest.fixture(scope="module")
def gated_run(tiny_gemma_run: Path, held_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA run of its own (serving it changes once a merge passes) exported by the CLI as ``gguf-q8``."""
    from caretune.cli import app

    run = make_lora_run(Path(RunInfo.load(tiny_gemma_run).base_model), tmp_path_factory.mktemp("gated") / "run")
    result = CliRunner().invoke(
        app, ["export", str(run), "--format", "gguf-q8", "--gate-data", str(held_out), *TINY_OPTIONS]
    )
    assert result.exit_code == 0, result.output
    assert Path(result.stdout.strip().splitlines()[-1]) == run / "export" / "model-q8_0.gguf"
    return run


@pytest.fixture
def run_copy(gated_run: Path, tmp_path: Path) -> Path:
    """The gated run copied with its files' times (its gate stays current), for a test to spoil."""
    return Path(shutil.copytree(gated_run, tmp_path / "run"))


def served_files(run: Path, **options) -> tuple[Path, Path | None]:
    engine = load_engine(run, engine="llamacpp", prompt_cache_mb=0, **options)
    try:
        return engine.model_path, engine.lora_path
    finally:
        engine.close()


def test_a_faithful_merge_passes_its_gate_and_is_served(gated_run: Path) -> None:
    merged = gated_run / "export" / "model-q8_0.gguf"
    record = read_record(merged)
    assert record.passed and not record.failures
    figures = record.figures
    assert figures.turns > 0 and figures.scored_tokens > 0 and figures.prompts == figures.turns
    assert abs(figures.perplexity_increase) <= record.thresholds.max_perplexity_increase
    assert served_files(gated_run) == (merged, None)
    model_path, lora_path = served_files(gated_run, lora_mode="adapter")  # what --lora-mode adapter serves
    assert model_path != merged and lora_path is not None


def test_a_merge_that_lost_the_fine_tune_fails_and_serving_keeps_the_adapter(run_copy: Path, held_out: Path) -> None:
    """A merge quantised from the base alone (as if the adapter's update had been rounded away) is refused."""
    from caretune.evaluation.quant_gate import gate
    from caretune.export.quantize import quantize_gguf

    base_gguf, adapter = served_files(run_copy, lora_mode="adapter", base_dtype="f32")
    merged = run_copy / "export" / "model-q8_0.gguf"
    quantize_gguf(base_gguf, merged, "q8_0")
    record = gate(run_copy, "gguf-q8", held_out, TINY_LIMITS)
    assert not record.passed and record.failures
    assert read_record(merged).passed is False
    assert servable_merge(resolve_ref(run_copy)) is None
    assert served_files(run_copy)[1] is not None  # base + runtime adapter


def test_a_stale_merge_is_not_served(run_copy: Path, tiny_gemma_run: Path, tmp_path: Path) -> None:
    merged = run_copy / "export" / "model-q8_0.gguf"
    assert servable_merge(resolve_ref(run_copy)) == merged
    stat = merged.stat()
    os.utime(merged, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # the file was rewritten since
    assert servable_merge(resolve_ref(run_copy)) is None
    os.utime(merged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert servable_merge(resolve_ref(run_copy)) == merged
    retrained = make_lora_run(Path(RunInfo.load(tiny_gemma_run).base_model), tmp_path / "retrained", seed=7)
    shutil.copy(retrained / "adapter" / "adapter_model.safetensors", run_copy / "adapter")  # trained again
    assert servable_merge(resolve_ref(run_copy)) is None
    assert served_files(run_copy)[1] is not None


def test_the_server_chooses_merges_for_few_models_and_a_shared_base_for_many() -> None:
    from caretune.server.settings import ServerSettings

    assert ServerSettings(max_loaded_models=2).engine_lora_mode() == "merged"
    assert ServerSettings(max_loaded_models=3).engine_lora_mode() == "adapter"
    assert ServerSettings(max_loaded_models=8, lora_mode="merged").engine_lora_mode() == "merged"
    assert ServerSettings(max_loaded_models=1, lora_mode="adapter").engine_lora_mode() == "adapter"


def test_a_gated_export_needs_held_out_data(tiny_gemma_run: Path, tmp_path: Path) -> None:
    from caretune.cli import app

    run = make_lora_run(Path(RunInfo.load(tiny_gemma_run).base_model), tmp_path / "run")  # run.json: no data
    result = CliRunner().invoke(app, ["export", str(run), "--format", "gguf-q4"])
    assert result.exit_code != 0 and "--gate-data" in str(result.exception)
    assert not (run / "export" / "model-q4_k_m.gguf").exists()
