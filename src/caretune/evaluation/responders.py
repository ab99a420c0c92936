"""Everything that is evaluated, behind one interface: given histories, return replies with their cost.

A fine-tune, a base model, the few-shot baseline and the retrieval baseline are all "responders", so scoring
and reporting never need to know which kind produced a reply.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Literal, Protocol

from pydantic import BaseModel
from tqdm import tqdm

from caretune.evaluation.fewshot import FEW_SHOT_STOP, few_shot_prompt
from caretune.evaluation.retrieval import RetrievalIndex
from caretune.evaluation.turns import Turn

Kind = Literal["model", "few-shot", "retrieval"]


class Reply(BaseModel):
    """One generated reply: its text, whether it ended at a stop sequence, how long it took, and (when asked
    for) the mean log-probability of its tokens: how sure the model was of what it said."""

    text: str
    clean_stop: bool
    latency_s: float
    mean_logprob: float | None = None


class Responder(Protocol):
    """A system under evaluation."""

    name: str
    kind: Kind

    def respond(self, histories: list[list[dict]]) -> list[Reply]:
        """One reply per history, in order."""
        ...


class EngineResponder:
    """Generates with a caretune engine; ``build_prompt`` decides how a history becomes the prompt text."""

    def __init__(
        self,
        name: str,
        kind: Kind,
        engine: Any,
        params: Any,
        build_prompt: Callable[[list[dict]], str],
    ) -> None:
        self.name, self.kind = name, kind
        self._engine, self._params, self._build_prompt = engine, params, build_prompt

    def respond(self, histories: list[list[dict]]) -> list[Reply]:
        """Generate one reply per history with a progress bar; latency is wall time per completion."""
        replies = []
        for history in tqdm(histories, desc=f"generate {self.name}", unit="turn"):
            start = time.perf_counter()
            choice = self._engine.complete(self._build_prompt(history), self._params).choices[0]
            latency = time.perf_counter() - start
            replies.append(
                Reply(
                    text=choice.text.strip(), clean_stop=choice.finish_reason == "stop", latency_s=latency,
                    mean_logprob=_mean_logprob(choice.logprobs),
                )
            )
        return replies


def _mean_logprob(logprobs: Any) -> float | None:
    """The mean over a reply's tokens (None when none were asked for; 0 for an empty reply: no evidence)."""
    if logprobs is None:
        return None
    values = [v for v in logprobs.token_logprobs if v is not None]
    return sum(values) / len(values) if values else 0.0


def model_responder(
    name: str, engine: Any, params: Any, knowledge: Any = None, logprobs: bool = False
) -> EngineResponder:
    """A model prompted exactly as it is served (``caretune.answering``: instructions, ``knowledge``'s
    passages, history that fits), with its own stop sequences; ``logprobs`` records each reply's mean token
    log-probability (a candidate hand-off signal; it costs a softmax over the vocabulary per token)."""
    from caretune.answering import prepare_answer

    params = params.model_copy(update={"stop": list(engine.default_stop), "logprobs": 0 if logprobs else None})

    def prompt(history: list[dict]) -> str:
        return prepare_answer(engine, history, knowledge, params.max_tokens).prompt

    return EngineResponder(name, "model", engine, params, prompt)


def few_shot_responder(name: str, engine: Any, params: Any, examples: list[Turn]) -> EngineResponder:
    """The base model prompted the classic way (see :mod:`caretune.evaluation.fewshot`)."""
    params = params.model_copy(update={"stop": FEW_SHOT_STOP})
    return EngineResponder(name, "few-shot", engine, params, lambda h: few_shot_prompt(h, examples))


class RetrievalResponder:
    """Answers with the nearest training reply; always "stops cleanly", latency is the lookup time."""

    kind: Kind = "retrieval"

    def __init__(self, name: str, index: RetrievalIndex) -> None:
        self.name, self._index = name, index

    def respond(self, histories: list[list[dict]]) -> list[Reply]:
        """Look every history up in one batch and share the time equally between them."""
        start = time.perf_counter()
        texts = self._index.answer(histories)
        each = (time.perf_counter() - start) / max(len(histories), 1)
        return [Reply(text=t, clean_stop=True, latency_s=each) for t in texts]
