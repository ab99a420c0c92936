"""A conversation as the prompt for the agent's next turn, with the instructions the model was trained with."""

from __future__ import annotations

from collections.abc import Sequence

from caretune.engines.base import Engine


def with_instructions(messages: Sequence[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    """``messages`` led by ``system_prompt`` (the run's: what every training example carried) when they bring
    no system message of their own; one they bring replaces it."""
    if not system_prompt or any(m["role"] == "system" for m in messages):
        return list(messages)
    return [{"role": "system", "content": system_prompt}, *messages]


def conversation_prompt(engine: Engine, messages: Sequence[dict[str, str]]) -> str:
    """The text the engine continues with the agent's reply to ``messages``."""
    return engine.render_chat(with_instructions(messages, engine.system_prompt))
