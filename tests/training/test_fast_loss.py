"""The target-only loss is the plain full-logits loss, only cheaper: same value, same gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from caretune.prompting import PromptFormat, tokenize_conversation
from caretune.training.hidden import causal_lm_of, final_hidden_states
from caretune.training.loss import target_only_loss
from tests.conftest import synthetic_conversations


def _padded_batch(model_dir: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = [tokenize_conversation(c["messages"], PromptFormat(), tok) for c in synthetic_conversations(4, seed=5)]
    width = max(len(r["input_ids"]) for r in rows)
    pad = width - torch.tensor([len(r["input_ids"]) for r in rows])
    return {
        "input_ids": torch.tensor([r["input_ids"] + [tok.pad_token_id] * p for r, p in zip(rows, pad)]),
        "attention_mask": torch.tensor([[1] * len(r["input_ids"]) + [0] * p for r, p in zip(rows, pad)]),
        "labels": torch.tensor([r["labels"] + [-100] * p for r, p in zip(rows, pad)]),
    }


@pytest.mark.parametrize(
    ("model_fixture", "softcap"),
    [("tiny_gemma_dir", None), ("tiny_gemma_dir", 3.0), ("tiny_llama_dir", None)],  # Llama has no softcap
)
def test_fast_loss_equals_full_logits_loss(model_fixture: str, softcap, request: pytest.FixtureRequest) -> None:
    from transformers import AutoModelForCausalLM

    model_dir = request.getfixturevalue(model_fixture)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    model.config.final_logit_softcapping = softcap
    batch = _padded_batch(model_dir)

    plain = model(**batch).loss
    plain_grad = torch.autograd.grad(plain, model.get_output_embeddings().weight)[0]

    labels = batch.pop("labels")
    hidden = final_hidden_states(model, batch)
    fast = target_only_loss(hidden, labels, causal_lm_of(model).get_output_embeddings(), softcap, chunk_size=7)
    fast_mean = fast.loss_sum / fast.n_targets
    fast_grad = torch.autograd.grad(fast_mean, model.get_output_embeddings().weight)[0]

    assert fast.n_targets == int((labels[:, 1:] != -100).sum())
    assert abs(fast_mean.item() - plain.item()) < 1e-5
    assert torch.allclose(fast_grad, plain_grad, atol=1e-6)


@pytest.mark.parametrize("model_fixture", ["tiny_gemma_dir", "tiny_llama_dir"])
def test_packed_batch_loss_equals_separate_examples(model_fixture: str, request: pytest.FixtureRequest) -> None:
    """Packing saves the compute spent on padding without letting one conversation attend to another."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorWithFlattening

    model_dir = request.getfixturevalue(model_fixture)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(model_dir)
    rows = [tokenize_conversation(c["messages"], PromptFormat(), tok) for c in synthetic_conversations(4, seed=6)]

    separate = [model(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]])) for r in rows]
    counts = [sum(label != -100 for label in r["labels"][1:]) for r in rows]
    expected = sum(out.loss.item() * n for out, n in zip(separate, counts)) / sum(counts)

    packed = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)(rows)
    labels = packed.pop("labels")
    with torch.no_grad():
        stats = target_only_loss(final_hidden_states(model, packed), labels, model.get_output_embeddings())
    assert stats.n_targets == sum(counts)
    assert abs(stats.loss_sum.item() / stats.n_targets - expected) < 1e-5
