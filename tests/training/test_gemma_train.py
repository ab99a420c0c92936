"""Two real LoRA steps on Gemma 3 270M (the default base): converts, trains, writes a servable run."""

from __future__ import annotations

from pathlib import Path

import pytest

from caretune.training import RunInfo, TrainConfig, train

pytestmark = pytest.mark.gemma


def test_gemma_lora_steps_write_a_run(chat_data_dir: Path, tmp_path: Path) -> None:
    run = train(TrainConfig(data=chat_data_dir, out=tmp_path / "run", max_steps=2, batch_size=2, max_seq_len=128))
    info = RunInfo.load(run)
    assert info.status == "succeeded" and info.base_model == "gemma-3-270m"
    assert info.prompt_format.kind == "plain"
    assert (run / "adapter" / "adapter_model.safetensors").is_file()
