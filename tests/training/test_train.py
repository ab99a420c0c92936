"""Training end to end on tiny random models: loss falls, the run directory holds what the contract says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caretune.training import RunInfo, TrainConfig, train


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("model_fixture", "method"), [("tiny_gemma_dir", "lora"), ("tiny_llama_dir", "full")])
def test_loss_falls_and_run_dir_is_complete(
    model_fixture: str, method: str, chat_data_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    base = str(request.getfixturevalue(model_fixture))
    events: list[dict] = []
    config = TrainConfig(
        data=chat_data_dir, out=tmp_path / "run", base=base, method=method, max_steps=30,
        batch_size=4, learning_rate_multiplier=5 if method == "lora" else 10, eval_steps=10,
    )
    run = train(config, on_event=events.append)

    records = _records(run)
    train_losses = [r["train_loss"] for r in records if "train_loss" in r]
    valid_losses = [r["valid_loss"] for r in records if "valid_loss" in r]
    assert len(train_losses) == 30 and len(valid_losses) == 4  # the base model's at step 0, then every 10 steps
    assert records[0]["step"] == 0 and "valid_loss" in records[0]
    # A frozen random head caps what LoRA can do to a tiny random model; full fine-tuning learns the replies.
    assert sum(train_losses[-5:]) / 5 < (0.99 if method == "lora" else 0.6) * sum(train_losses[:5]) / 5
    assert valid_losses[-1] < valid_losses[0]
    assert events == records
    steps = [r for r in records if "train_loss" in r]
    assert all(r["tokens_per_second"] > 0 and 0 <= r["train_mean_token_accuracy"] <= 1 for r in steps)

    info = RunInfo.load(run)
    assert info.status == "succeeded" and info.base_model == base and info.stop == ["\nCustomer:"]
    assert info.hyperparameters.batch_size == 4 and info.trained_tokens > 0 and info.total_steps == 30
    assert info.system_prompt == "You are a customer support agent for Acme."
    assert set(info.data) == {str(chat_data_dir / "train.jsonl"), str(chat_data_dir / "valid.jsonl")}
    assert (run / ("adapter/adapter_config.json" if method == "lora" else "model/config.json")).is_file()
    assert (run / "tokenizer" / "tokenizer.json").is_file()
    assert (run / "loss.png").stat().st_size > 0
    assert (run / "checkpoints" / "checkpoint-30").is_dir()


def test_a_lora_fine_tune_can_be_trained_further(tiny_llama_run: Path, chat_data_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    config = TrainConfig(data=chat_data_dir, out=tmp_path / "more", base=str(tiny_llama_run), max_steps=2,
                         batch_size=4, learning_rate_multiplier=0.1)
    run = train(config)

    from caretune.runs.refs import resolve_ref
    from caretune.prompting import PromptFormat

    parent = resolve_ref(tiny_llama_run).run
    info = RunInfo.load(run)
    assert info.status == "succeeded" and info.parent == str(tiny_llama_run.resolve())
    assert info.base_model == parent.base_model
    assert info.prompt_format == PromptFormat.model_validate(parent.prompt_format)  # the parent's, kept
    assert json.loads((run / "adapter" / "adapter_config.json").read_text())["r"] == 4  # the parent's rank
    before = load_file(tiny_llama_run / "adapter" / "adapter_model.safetensors")
    after = load_file(run / "adapter" / "adapter_model.safetensors")
    assert before.keys() == after.keys()
    for name, weight in before.items():  # two small steps away from the parent's adapter, not a fresh one
        assert (after[name] - weight).norm() < 0.05 * weight.norm(), name


def test_only_a_lora_run_with_an_adapter_can_be_continued(tiny_llama_run: Path, tmp_path: Path) -> None:
    from caretune.errors import InputError
    from caretune.training.start import starting_point

    with pytest.raises(InputError, match="--method lora"):
        starting_point(str(tiny_llama_run), "full")
    empty = tmp_path / "half-run"
    empty.mkdir()
    (empty / "run.json").write_text((tiny_llama_run / "run.json").read_text())
    with pytest.raises(InputError, match="saved its adapter"):
        starting_point(str(empty), "lora")
