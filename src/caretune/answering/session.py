"""A conversation with a loaded model: history, system prompt and sampling parameters, streamed replies.

``caretune chat`` is a thin terminal loop over this, so prompts and stop sequences are exactly the server's.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ValidationError

from caretune.answering.answer import handoff_of, knowledge_of, prepare_answer
from caretune.answering.decision import Decision, withheld_reply
from caretune.engines.base import Engine
from caretune.engines.params import SamplingParams
from caretune.errors import InputError
from caretune.runs.info import KnowledgeSettings


class ChatSession:
    """History of one chat; `reply` streams the agent's next turn and remembers it."""

    def __init__(
        self, engine: Engine, system: str | None, params: SamplingParams, knowledge: KnowledgeSettings | None = None
    ) -> None:
        """``system`` None: the run's own system prompt; ``knowledge`` None: the run's own, as the server does."""
        self.engine = engine
        self.system = system
        self.params = params
        self.knowledge = knowledge_of(engine, knowledge)
        self.history: list[dict[str, str]] = []
        self.last_sources: list = []  # the passages the last reply was given
        self.last_decision = Decision()  # whether the last reply answered, asked back or handed over

    def reset(self) -> None:
        """Forget the conversation (the system prompt and parameters stay)."""
        self.history = []

    def set_system(self, text: str) -> None:
        """Replace the system prompt; an empty text goes back to the run's own."""
        self.system = text or None

    def update_params(self, assignments: list[str]) -> SamplingParams:
        """Apply `name=value` assignments (`temperature=0.3 max_tokens=64`), validated as SamplingParams."""
        updates: dict[str, str] = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep or name not in SamplingParams.model_fields:
                raise InputError(
                    f"expected NAME=VALUE with NAME one of {', '.join(SamplingParams.model_fields)}: {item!r}"
                )
            updates[name] = value
        try:
            self.params = SamplingParams.model_validate({**self.params.model_dump(), **updates})
        except ValidationError as exc:
            problem = exc.errors()[0]
            raise InputError(f"{problem['loc'][0]}: {problem['msg']}") from None
        return self.params

    def reply(self, user_text: str) -> Iterator[str]:
        """Stream the agent's reply to `user_text`; both turns join the history once it is complete."""
        messages = self._messages() + [{"role": "user", "content": user_text}]
        handoff = handoff_of(self.engine)
        answer = prepare_answer(self.engine, messages, self.knowledge, self.params.max_tokens, handoff)
        self.last_sources = answer.passages
        self.last_decision = answer.decision
        params = self.params.model_copy(update={"stop": self.params.stop or self.engine.default_stop, "n": 1})
        parts: list[str] = []
        if answer.decision.action != "answer":  # the terminal has no agent queue: the customer is told so
            parts.append(withheld_reply(handoff, answer.decision))
            yield parts[0]
        else:
            for event in self.engine.stream(answer.prompt, params):
                if event.text:
                    parts.append(event.text)
                    yield event.text
        self.history += [
            {"role": "user", "content": user_text},
            {"role": "assistant", "content": "".join(parts).strip()},
        ]

    def _messages(self) -> list[dict[str, str]]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        return system + self.history
