"""The one answering path: instructions, passages and the history that fits become the prompt."""

from __future__ import annotations

import pytest

from caretune.answering import prepare_answer
from caretune.runs.info import KnowledgeSettings
from tests.knowledge.helpers import policies_kb


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeSettings:
    return policies_kb(tmp_path_factory.mktemp("answer_kb"))


def test_the_runs_instructions_lead_and_a_requests_own_replace_them(hf_llama_run_engine) -> None:
    engine = hf_llama_run_engine
    question = [{"role": "user", "content": "hello"}]
    assert prepare_answer(engine, question).prompt == engine.render_chat(
        [{"role": "system", "content": engine.system_prompt}, *question]
    )
    own = [{"role": "system", "content": "Be brief."}, *question]
    assert prepare_answer(engine, own).prompt == engine.render_chat(own)


def test_passages_join_the_system_message(hf_llama_run_engine, kb: KnowledgeSettings) -> None:
    answer = prepare_answer(hf_llama_run_engine, [{"role": "user", "content": "do gift cards expire?"}], kb)
    assert answer.passages[0].title == "Gift cards" and len(answer.passages) == 2
    system = answer.prompt.split("\n\nCustomer:")[0]
    assert system.startswith(hf_llama_run_engine.system_prompt) and "- Gift cards: Gift cards never expire." in system


def test_old_turns_are_dropped_until_the_reply_fits(hf_llama_run_engine) -> None:
    """The tiny model's context is 512 tokens; the oldest exchanges go first and the customer speaks first."""
    engine = hf_llama_run_engine
    turns = []
    for i in range(30):
        turns += [{"role": "user", "content": f"question {i} about my order"}, {"role": "assistant", "content": "ok " * 8}]
    turns.append({"role": "user", "content": "and now?"})
    answer = prepare_answer(engine, turns, reply_tokens=64)
    assert answer.dropped_turns > 0 and answer.dropped_turns % 2 == 0
    assert answer.prompt_tokens + 64 <= engine.context_length
    kept = turns[answer.dropped_turns:]
    assert answer.prompt == engine.render_chat([{"role": "system", "content": engine.system_prompt}, *kept])
    assert prepare_answer(engine, turns[-3:], reply_tokens=64).dropped_turns == 0


def test_a_long_history_is_cut_with_few_tokenisations(hf_llama_run_engine, monkeypatch) -> None:
    """Two thousand exchanges: the kept history is the most recent that fits (one more exchange would not),
    found with a handful of tokenisations of context-sized prompts, not one per exchange dropped."""
    engine = hf_llama_run_engine
    turns = []
    for i in range(2000):
        turns += [{"role": "user", "content": f"question {i} about my order"}, {"role": "assistant", "content": "ok"}]
    turns.append({"role": "user", "content": "and now?"})
    counted: list[int] = []
    count_tokens = engine.count_tokens
    monkeypatch.setattr(engine, "count_tokens", lambda prompt: counted.append(len(prompt)) or count_tokens(prompt))
    answer = prepare_answer(engine, turns, reply_tokens=64)
    monkeypatch.undo()
    assert answer.dropped_turns % 2 == 0 and answer.prompt_tokens + 64 <= engine.context_length
    lead = [{"role": "system", "content": engine.system_prompt}]
    one_more = engine.render_chat(lead + turns[answer.dropped_turns - 2:])
    assert engine.count_tokens(one_more) + 64 > engine.context_length
    assert len(counted) <= 20, len(counted)
    assert sorted(counted)[-2] < 8 * len(answer.prompt), counted  # only the first, whole, attempt is long


def test_the_domain_classifier_reads_the_question_the_answer_searched_for(hf_llama_run_engine, kb) -> None:
    """The served path embeds the question once, for search and for the hand-off's domain classifier."""
    from caretune.evaluation.handoff import embedded_queries, fit_domain
    from caretune.evaluation.turns import asked
    from caretune.runs.info import HandoffSettings
    from tests.evaluation.test_handoff import BANK, MUSIC_PAST

    def vectors(texts: list[str]):  # noqa: ANN202
        return embedded_queries(asked(texts))[1]

    # the shop's knowledge covers neither; only the classifier of the app's past questions tells them apart
    settings = HandoffSettings(
        features=["domain"], weights=[1.0], domain=fit_domain(vectors(MUSIC_PAST), vectors(BANK)), threshold=0.5
    )
    music = prepare_answer(hf_llama_run_engine, [{"role": "user", "content": "my songs skip"}], kb, handoff=settings)
    bank = prepare_answer(hf_llama_run_engine, [{"role": "user", "content": "my debit card was declined"}], kb,
                          handoff=settings)
    assert music.decision.action == "answer" and music.decision.confidence > 0.5
    assert (bank.decision.action, bank.decision.reason) == ("handoff", "low_confidence")
