"""One answering path: a conversation in → its instructions, the passages retrieved for it and as much of
its history as fits → the prompt, with the passages it was given as the answer's sources.

The server (and so the web chat app), ``caretune chat``, ``caretune ask`` and ``caretune eval`` all prepare
answers here, so what is evaluated is what customers get.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from caretune.answering.decision import NEAREST, Decision, decide
from caretune.engines.base import Engine
from caretune.knowledge import (
    Passage, embed_query, grounded_system, nearness_to, open_knowledge, search, search_query,
)
from caretune.runs.info import HandoffSettings, KnowledgeSettings

Messages = Sequence[dict[str, str]]


class PreparedAnswer(BaseModel):
    """What the engine is asked to continue, and what went into it."""

    prompt: str
    prompt_tokens: int
    passages: list[Passage] = []
    dropped_turns: int = 0  # the oldest turns left out so the conversation fits the context
    decision: Decision = Decision()  # answer, ask back or hand off (``decision.py``)


def knowledge_of(engine: Engine, override: KnowledgeSettings | None = None) -> KnowledgeSettings | None:
    """The knowledge a model answers from: the one it is served with, else the one its run trained with."""
    return override or engine.prompting.knowledge


def handoff_of(engine: Engine, overrides: dict | None = None) -> HandoffSettings | None:
    """When a model hands over: as ``caretune eval`` calibrated its run, with what the server sets over it
    (``overrides``: a threshold, a message)."""
    own = engine.prompting.handoff
    return (own or HandoffSettings()).model_copy(update=overrides) if overrides else own


def prepare_answer(
    engine: Engine,
    messages: Messages,
    knowledge: KnowledgeSettings | None = None,
    reply_tokens: int | None = None,
    handoff: HandoffSettings | None = None,
) -> PreparedAnswer:
    """The prompt for the agent's next turn: the request's own system message (else the run's instructions),
    the passages found for the conversation, and the latest turns that leave room for ``reply_tokens``; and
    whether to send it (``handoff``: the calibrated decision; triggers apply without one)."""
    query = search_query(messages)
    # embedded once: dense search and the hand-off's domain classifier both read it
    vector = embed_query(query) if knowledge is not None and query.strip() else None
    passages = _retrieve(knowledge, query, vector)
    near = _near_knowledge(knowledge, vector, handoff)
    decision = decide(messages, query, passages if knowledge else None, handoff, vector, near)
    own = [m["content"] for m in messages if m["role"] == "system"]
    system = grounded_system(own[0] if own else engine.system_prompt, passages)
    lead = [{"role": "system", "content": system}] if system else []
    turns = [dict(m) for m in messages if m["role"] != "system"]
    dropped, prompt, tokens = _fitting_history(engine, lead, turns, reply_tokens)
    return PreparedAnswer(
        prompt=prompt, prompt_tokens=tokens, passages=passages, dropped_turns=dropped, decision=decision
    )


def conversation_prompt(engine: Engine, messages: Messages) -> str:
    """The prompt for ``messages`` with the model's own knowledge and instructions (what ``caretune ask``
    and a plain chat use)."""
    return prepare_answer(engine, messages, knowledge_of(engine)).prompt


def _retrieve(knowledge: KnowledgeSettings | None, query: str, vector: np.ndarray | None) -> list[Passage]:
    if knowledge is None or vector is None:
        return []
    return search(open_knowledge(knowledge.path), query, knowledge.passages, vector=vector)


def _near_knowledge(
    knowledge: KnowledgeSettings | None, vector: np.ndarray | None, handoff: HandoffSettings | None
) -> float:
    """How near the question sits to the knowledge; only the ``neighbours`` signal reads it, so the extra
    dense search is made only for a model that serves that signal."""
    if knowledge is None or vector is None or handoff is None or handoff.neighbours is None:
        return 0.0
    return nearness_to(open_knowledge(knowledge.path), vector, NEAREST)


def _fits(engine: Engine, prompt_tokens: int, reply_tokens: int | None) -> bool:
    """Whether the prompt leaves room for the reply (for at least one token, when no length is asked)."""
    return prompt_tokens + max(reply_tokens or 0, 1) <= engine.context_length


def _fitting_history(
    engine: Engine, lead: list[dict[str, str]], turns: list[dict[str, str]], reply_tokens: int | None
) -> tuple[int, str, int]:
    """The most recent history that leaves room for the reply, dropping whole exchanges from the oldest (the
    last turn stays even when it alone is too long): (turns dropped, the prompt, its tokens).

    A whole conversation that fits costs one tokenisation. One that does not is searched from the newest
    end, keeping 1, 2, 4... exchanges and then bisecting, so the prompts tokenised stay near the context
    window's size however long the conversation: trying each cut from the oldest was quadratic."""

    cuts = _exchange_starts(turns)
    tried: dict[int, tuple[bool, str, int]] = {}

    def attempt(i: int) -> tuple[bool, str, int]:
        """Whether keeping the history from ``cuts[i]`` on leaves room for the reply; its prompt and tokens."""
        if i not in tried:
            prompt = engine.render_chat(lead + turns[cuts[i]:])
            tokens = engine.count_tokens(prompt)
            tried[i] = (_fits(engine, tokens, reply_tokens), prompt, tokens)
        return tried[i]

    if attempt(0)[0]:
        return 0, *attempt(0)[1:]
    # attempt(i) keeps less history as i grows: find the smallest i that fits, the last cut if none does.
    low, high, span = 0, len(cuts) - 1, 1
    while high - span > low:  # gallop from the newest end: keep 1, 2, 4... more exchanges
        if not attempt(high - span)[0]:
            low = high - span
            break
        high, span = high - span, span * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if attempt(middle)[0] else (middle, high)
    return cuts[high], *attempt(high)[1:]


def _exchange_starts(turns: list[dict[str, str]]) -> list[int]:
    """Where the kept history may start, oldest first: 0, then after each oldest exchange dropped (so the
    conversation still starts with the customer), down to the last turn alone."""
    starts = [0]
    while len(turns) - starts[-1] > 1:
        cut = starts[-1] + 1
        while cut < len(turns) - 1 and turns[cut]["role"] != "user":
            cut += 1
        starts.append(cut)
    return starts
