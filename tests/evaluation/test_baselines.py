"""The two baselines and turn extraction, on small hand-made conversations."""

from __future__ import annotations

from pathlib import Path

import pytest

from caretune.errors import InputError
from caretune.knowledge.embeddings import get_embedder
from caretune.evaluation.fewshot import few_shot_prompt, pick_examples
from caretune.evaluation.retrieval import RetrievalIndex
from caretune.evaluation.turns import Turn, load_turns
from tests.conftest import synthetic_conversations, write_jsonl


def _turn(question: str, reply: str) -> Turn:
    return Turn(history=[{"role": "user", "content": question}], reference=reply)


TRAIN = [
    _turn("my parcel never arrived", "Sorry! DM us the tracking number."),
    _turn("how do I change my password", "Go to Settings > Security."),
    _turn("are you open on bank holidays", "We are closed on bank holidays."),
]


def test_retrieval_returns_the_nearest_training_reply() -> None:
    index = RetrievalIndex(TRAIN, get_embedder())
    answers = index.answer(
        [
            [{"role": "user", "content": "I forgot my password, how can I reset it?"}],
            [{"role": "user", "content": "the package I ordered hasn't been delivered"}],
        ]
    )
    assert answers == ["Go to Settings > Security.", "Sorry! DM us the tracking number."]


def test_embedding_similarity_orders_paraphrases_above_unrelated() -> None:
    sims = get_embedder().pair_similarity(
        ["where is my order", "where is my order", ""], ["my order has not arrived", "I like turtles", "x"]
    )
    assert sims[0] > sims[1] and sims[2] == 0.0


def test_few_shot_prompt_shows_examples_then_the_dialogue() -> None:
    history = [
        {"role": "system", "content": "You support Acme."},
        {"role": "user", "content": "hello\nthere"},
    ]
    prompt = few_shot_prompt(history, TRAIN[:1])
    assert prompt == (
        "You support Acme.\n\n"
        "Customer: my parcel never arrived\nAgent: Sorry! DM us the tracking number.\n\n"
        "Customer: hello there\nAgent:"
    )


def test_pick_examples_is_seeded_and_short() -> None:
    long_turn = _turn("x " * 300, "y")
    picked = pick_examples([*TRAIN, long_turn], k=2, seed=3)
    assert picked == pick_examples([*TRAIN, long_turn], k=2, seed=3)
    assert long_turn not in picked and len(picked) == 2


def test_every_agent_reply_is_a_turn_and_limit_samples(tmp_path: Path) -> None:
    rows = synthetic_conversations(10, seed=5)
    rows[0]["metadata"] = {"brand": "Acme"}
    path = write_jsonl(tmp_path / "test.jsonl", rows)
    expected = sum(sum(msg["role"] == "assistant" for msg in r["messages"]) for r in rows)
    turns = load_turns(path)
    assert len(turns) == expected
    assert turns[0].brand == "Acme" and turns[0].history[-1]["role"] == "user"
    assert load_turns(path, limit=4, seed=1) == load_turns(path, limit=4, seed=1)
    assert len(load_turns(path, limit=4, seed=1)) == 4


def test_bad_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"nope": 1}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        load_turns(path)
