"""``prompt_loss_weight``: the prompt's tokens join the loss at that weight; 0 is the agent-only loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from caretune.prompting import IGNORE, tokenize_completion
from caretune.training.trainer import PackingCollator, TargetLossTrainer


def _cross_entropy_sums(model, batch) -> tuple[float, float]:
    """The plain summed next-token cross-entropy over the completion's and over the prompt's tokens."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0, :-1].float()
    sums = []
    for key in ("labels", "prompt_labels"):
        targets = batch[key][0, 1:]
        keep = targets != IGNORE
        sums.append(float(torch.nn.functional.cross_entropy(logits[keep], targets[keep], reduction="sum")))
    return sums[0], sums[1]


@pytest.mark.parametrize("weight", [0.0, 0.01, 0.5])
def test_the_loss_counts_the_prompt_at_its_weight(tiny_gemma_dir: Path, tmp_path: Path, weight: float) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(tiny_gemma_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_gemma_dir, dtype=torch.float32)
    rows = [
        tokenize_completion("Customer: my order has not arrived yet\nAgent:", " Sorry! Which order?\n", tokenizer,
                            prompt_labels=True),
        tokenize_completion("Customer: how do I reset my password\nAgent:", " From Settings.\n", tokenizer,
                            prompt_labels=True),
    ]
    batch = PackingCollator()(rows)
    trainer = TargetLossTrainer(
        model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to=[], use_cpu=True),
        prompt_loss_weight=weight,
    )
    model.train()
    completion_sum, prompt_sum = _cross_entropy_sums(model, batch)
    n_completion = int((batch["labels"][0, 1:] != IGNORE).sum())
    loss = trainer.compute_loss(model, batch, num_items_in_batch=n_completion).detach()
    assert prompt_sum > 0
    assert float(loss) == pytest.approx((completion_sum + weight * prompt_sum) / n_completion, rel=1e-4)


def test_prompt_labels_cover_what_the_labels_do_not(tiny_tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    row = tokenize_completion("Customer: hi\nAgent:", " Hello!\n", tokenizer, prompt_labels=True)
    trained = [i for i, label in enumerate(row["labels"]) if label != IGNORE]
    prompt = [i for i, label in enumerate(row["prompt_labels"]) if label != IGNORE]
    assert trained and prompt and max(prompt) < min(trained)  # the prompt first, then the completion
    assert row["input_ids"][trained[-1]] == tokenizer.eos_token_id  # the completion ends the turn
    assert len(prompt) + len(trained) >= len(row["input_ids"]) - 1  # every token but a leading BOS
    assert "prompt_labels" not in tokenize_completion("Customer: hi\nAgent:", " Hello!\n", tokenizer)
