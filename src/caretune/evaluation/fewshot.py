"""The classic baseline: a pretrained model shown a short example dialogue, then the customer's words.

This is how support bots were prototyped before fine-tuning was cheap; a fine-tune that cannot beat it has not
earned its training time.
"""

from __future__ import annotations

import random

from caretune.evaluation.turns import Turn

DEFAULT_HEADER = "The following is a conversation between a customer and a helpful customer support agent."
# A reply ends at the end of its line: the example dialogue puts every utterance on one line.
FEW_SHOT_STOP = ["\n"]


def pick_examples(train_turns: list[Turn], k: int = 2, seed: int = 0, max_chars: int = 200) -> list[Turn]:
    """``k`` short single-exchange training turns to show in the prompt (short keeps the prompt cheap)."""
    short = [
        t
        for t in train_turns
        if len([m for m in t.history if m["role"] != "system"]) == 1
        and len(t.reference) + len(t.history[-1]["content"]) <= max_chars
    ] or train_turns
    return random.Random(seed).sample(short, min(k, len(short)))


def _line(role: str, content: str) -> str:
    speaker = "Agent" if role == "assistant" else "Customer"
    return f"{speaker}: {' '.join(content.split())}"


def few_shot_prompt(history: list[dict], examples: list[Turn]) -> str:
    """Header (the conversation's system prompt if it has one), example exchanges, the dialogue, ``Agent:``."""
    system = next((m["content"] for m in history if m["role"] == "system"), DEFAULT_HEADER)
    shots = [
        "\n".join([_line("user", ex.history[-1]["content"]), _line("assistant", ex.reference)]) for ex in examples
    ]
    dialogue = [_line(m["role"], m["content"]) for m in history if m["role"] != "system"]
    return "\n\n".join([system, *shots, "\n".join([*dialogue, "Agent:"])])
