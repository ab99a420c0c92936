"""Training examples that read the knowledge base, laid out exactly as serving will lay out the prompt.

Each trained agent turn becomes an example of its own: the conversation up to it (earlier agent turns as
context, weight 0) and the system message with the passages retrieval finds for that turn, the right one
and its near misses together, as RAFT trains. A past conversation indexed from the very example being trained
on is left out, or the model would only learn to copy its own answer.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from caretune.data.checksum import sha256_of
from caretune.data.schema import ChatExample, ChatMessage
from caretune.knowledge import Passage, grounded_system, open_knowledge, search, search_query
from caretune.knowledge.documents import origin_of
from caretune.runs.info import KnowledgeSettings


# A trained agent turn: (line of its conversation in the file, the conversation, the index of the turn).
Turn = tuple[int, ChatExample, int]


def trained_turns(examples: list[tuple[int, ChatExample]]) -> list[Turn]:
    """Every agent turn of ``examples`` (numbered lines) that is trained (weight not 0): one example each."""
    return [
        (line, example, end)
        for line, example in examples
        for end, message in enumerate(example.messages)
        if message.role == "assistant" and message.weight != 0
    ]


def grounded_examples(turns: list[Turn], path: Path, knowledge: KnowledgeSettings) -> list[ChatExample]:
    """Each of ``turns`` (of conversations in ``path``) as an example, its passages in the system message."""
    from caretune.knowledge.embeddings import get_embedder

    kb = open_knowledge(knowledge.path)
    queries = [search_query(_plain(example.messages[:end])) for _, example, end in turns]
    vectors = get_embedder().encode(queries, progress=True)  # in batches: far faster than one by one
    digest, grounded = sha256_of(path), []
    for (line, example, end), query, vector in zip(tqdm(turns, desc="retrieving", unit="turn"), queries, vectors):
        excluded = frozenset({origin_of(digest, line)})
        passages = search(kb, query, knowledge.passages, exclude_origins=excluded, vector=vector)
        grounded.append(_turn_example(example, end, passages))
    return grounded


def _plain(messages: list[ChatMessage]) -> list[dict[str, str]]:
    return [{"role": m.role, "content": m.content} for m in messages]


def _turn_example(example: ChatExample, end: int, passages: list[Passage]) -> ChatExample:
    history = example.messages[:end]
    own = next((m.content for m in history if m.role == "system"), None)
    system = grounded_system(own, passages)
    turns = [m if m.role != "assistant" else m.model_copy(update={"weight": 0}) for m in history if m.role != "system"]
    lead = [ChatMessage(role="system", content=system)] if system else []
    return ChatExample(messages=[*lead, *turns, example.messages[end].model_copy(update={"weight": 1})])
