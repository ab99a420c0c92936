"""Perplexity and mean token accuracy on agent replies, with the exact masking training uses.

Each turn is tokenized by :func:`caretune.prompting.tokenize_conversation` with only its own reply trained
(earlier agent turns get weight 0), so a turn's numbers are those of the reply given its history, and a model
is scored on the very tokens its training loss counted.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel
from tqdm import tqdm

from caretune.evaluation.turns import Turn
from caretune.prompting import IGNORE, PromptFormat, tokenize_conversation


class TokenStats(BaseModel):
    """Summed negative log-likelihood, counted reply tokens, and how many the model ranked first."""

    nll: float = 0.0
    tokens: int = 0
    correct: int = 0

    def __add__(self, other: TokenStats) -> TokenStats:
        return TokenStats(
            nll=self.nll + other.nll, tokens=self.tokens + other.tokens, correct=self.correct + other.correct
        )

    @property
    def perplexity(self) -> float | None:
        """exp(mean NLL per reply token); None when no token was scored."""
        return math.exp(self.nll / self.tokens) if self.tokens else None

    @property
    def token_accuracy(self) -> float | None:
        """Share of reply tokens the model predicts as its top choice (TRL's ``mean_token_accuracy``)."""
        return self.correct / self.tokens if self.tokens else None


def turn_conversation(turn: Turn) -> list[dict]:
    """The turn's history plus its real reply, with only that reply trained."""
    history = [{**m, "weight": 0} if m["role"] == "assistant" else m for m in turn.history]
    return [*history, {"role": "assistant", "content": turn.reference, "weight": 1}]


def turn_stats(model: Any, tokenizer: Any, fmt: PromptFormat, turn: Turn, max_len: int) -> TokenStats:
    """Score one reply given its history with a transformers causal LM.

    Logits are computed only where a reply token is predicted (``logits_to_keep`` as positions): with
    Gemma's 262k-word vocabulary the output layer over the whole history would cost several times the rest.
    """
    import torch

    encoded = tokenize_conversation(turn_conversation(turn), fmt, tokenizer, max_len)
    targets = torch.tensor(encoded["labels"][1:])
    positions = (targets != IGNORE).nonzero().flatten()
    if positions.numel() == 0:
        return TokenStats()
    labels = targets[positions]
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([encoded["input_ids"]]), logits_to_keep=positions).logits[0].float()
    nll = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    correct = (logits.argmax(dim=-1) == labels).sum()
    return TokenStats(nll=float(nll), tokens=int(labels.numel()), correct=int(correct))


def score_turns(
    model: Any, tokenizer: Any, fmt: PromptFormat, turns: list[Turn], max_len: int, name: str = "model"
) -> list[TokenStats]:
    """Per-turn statistics, with a progress bar (one forward pass per turn)."""
    model.eval()
    return [
        turn_stats(model, tokenizer, fmt, t, max_len) for t in tqdm(turns, desc=f"perplexity {name}", unit="turn")
    ]
