"""Training examples that read the knowledge base, laid out exactly as serving will lay out the prompt.

Each trained agent turn becomes an example of its own: the conversation up to it (earlier agent turns as
context, weight 0) and the system message with the passages retrieval finds for that turn, the right one
and its near misses together, as RAFT trains. A past conversation indexed from the very example being trained
on is left out, or the model would only learn to copy its own answer.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from caretune.data.schema import ChatExample, ChatMessage
from caretune.knowledge import grounded_system, open_knowledge, search, search_query
from caretune.knowledge.documents import origin_of
from caretune.runs.info import KnowledgeSettings


def grounded_examples(
    examples: list[tuple[int, ChatExample]], path: Path, knowledge: KnowledgeSettings
) -> list[ChatExample]:
    """Every trained agent turn of ``examples`` (lines of ``path``) with its passages in the system message."""
    kb = open_knowledge(knowledge.path)
    grounded = []
    for line, example in tqdm(examples, desc="retrieving passages", unit="example"):
        excluded = frozenset({origin_of(path, line)})
        for end, message in enumerate(example.messages):
            if message.role != "assistant" or message.weight == 0:
                continue
            grounded.append(_turn_example(example, end, kb, knowledge.passages, excluded))
    return grounded


def _turn_example(example: ChatExample, end: int, kb, k: int, excluded: frozenset[str]) -> ChatExample:
    history = example.messages[:end]
    plain = [{"role": m.role, "content": m.content} for m in history]
    passages = search(kb, search_query(plain), k, exclude_origins=excluded)
    own = next((m.content for m in history if m.role == "system"), None)
    system = grounded_system(own, passages)
    turns = [m if m.role != "assistant" else m.model_copy(update={"weight": 0}) for m in history if m.role != "system"]
    lead = [ChatMessage(role="system", content=system)] if system else []
    return ChatExample(messages=[*lead, *turns, example.messages[end].model_copy(update={"weight": 1})])
