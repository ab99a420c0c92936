"""The llama.cpp engine's prompt cache: a prompt that extends a cached one is prefilled only past it, and
answers exactly as if it had been read from scratch, whether its prefix was in the context, moved out of it
to RAM or to files, dropped, or unusable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from caretune.data.demo import demo_questions
from caretune.engines import SamplingParams, load_engine
from tests.engines.completions import assert_same_completion

GREEDY = SamplingParams(temperature=0, max_tokens=12, logprobs=1, logit_bias={2: -100})  # <eos> banned
INSTRUCTIONS = (
    "You are the support agent of Acme, an outdoor shop. Answer in one or two friendly sentences, and point "
    "to the order page or the returns centre when it helps the customer."
)
QUESTIONS = [q.question for q in demo_questions()][:6]  # real customers' wording


def chat_prompts(engine, questions: list[str], system: str = INSTRUCTIONS) -> list[str]:
    """The prompt of each turn of a chat that asks ``questions`` in turn, each reply the model's own."""
    messages = [{"role": "system", "content": system}]
    prompts = []
    for question in questions:
        messages.append({"role": "user", "content": question})
        prompts.append(engine.render_chat(messages))
        reply = engine.complete(prompts[-1], GREEDY).choices[0].text
        messages.append({"role": "assistant", "content": reply})
    return prompts


@pytest.fixture(scope="module")
def engines(tiny_gemma_run: Path, tiny_llama_run: Path):
    """Open llama.cpp engines (f32) by (run, options); all closed at the end."""
    opened: dict[tuple, object] = {}

    def engine(run: str, **options):
        key = (run, tuple(sorted(options.items())))
        if key not in opened:
            path = {"gemma": tiny_gemma_run, "llama": tiny_llama_run}[run]
            opened[key] = load_engine(path, engine="llamacpp", base_dtype="f32", **options)
        return opened[key]

    yield engine
    for opened_engine in opened.values():
        opened_engine.close()


def cold(engines, run: str, prompt: str, params: SamplingParams = GREEDY):
    """The completion without a prompt cache: every prompt read from its first token."""
    return engines(run, prompt_cache_mb=0).complete(prompt, params)


@pytest.fixture
def prefill_starts(monkeypatch):
    """``record(engine)``: from then on, the first position of every decode batch that reads a prompt."""
    starts: list[int] = []

    def record(engine) -> list[int]:
        runtime = engine._runtime
        decode = runtime.decode

        def recording(tokens):
            if len(tokens) > 1 or tokens[0].pos < 2:  # a decode step feeds one token per running sequence
                starts.append(tokens[0].pos)
            return decode(tokens)

        monkeypatch.setattr(runtime, "decode", recording)
        return starts

    return record


def test_each_chat_turn_prefills_only_what_follows_the_cached_conversation(engines, prefill_starts) -> None:
    """Gemma 3's sliding-window layers (a 128-token window in the tiny model) included: the prompts outgrow
    the window, and each turn reads from the cached turn before it."""
    engine = engines("gemma")
    prompts = chat_prompts(engines("gemma", prompt_cache_mb=0), QUESTIONS)
    assert engine.count_tokens(prompts[-1]) > 2 * 128
    starts = prefill_starts(engine)
    before = engine.prompt_cache_stats()
    for turn, prompt in enumerate(prompts):
        assert_same_completion(engine.complete(prompt, GREEDY), cold(engines, "gemma", prompt))
        if turn:
            assert starts[-1] >= engine.count_tokens(prompts[turn - 1]) - 1  # the last turn's prompt was cached
    stats = engine.prompt_cache_stats()
    assert stats.hits - before.hits >= len(prompts) - 1
    assert stats.reused_tokens - before.reused_tokens >= sum(engine.count_tokens(p) - 1 for p in prompts[:-1])
    assert stats.cached_bytes > 0 and stats.bytes_per_entry > 0


def test_conversations_with_the_same_instructions_share_them(engines, prefill_starts) -> None:
    engine = engines("gemma")
    first, second = (chat_prompts(engines("gemma", prompt_cache_mb=0), [q])[0] for q in ("hello there", "good evening"))
    assert_same_completion(engine.complete(first, GREEDY), cold(engines, "gemma", first))
    starts = prefill_starts(engine)
    assert_same_completion(engine.complete(second, GREEDY), cold(engines, "gemma", second))
    shared = engine.count_tokens(engine.render_chat([{"role": "system", "content": INSTRUCTIONS}]))
    assert starts[0] >= shared - 1
    assert engine.prompt_cache_stats().live_entries >= 2  # the first conversation is still cached too


def test_concurrent_requests_sharing_a_prefix_answer_as_alone(engines) -> None:
    engine = engines("gemma")
    prompts = [chat_prompts(engines("gemma", prompt_cache_mb=0), [q])[0] for q in QUESTIONS]
    two = GREEDY.model_copy(update={"n": 2})
    jobs = [(prompts[0], two), (prompts[1], GREEDY)] + [(p, GREEDY) for p in prompts]
    for prompt in prompts[:2]:
        engine.complete(prompt, GREEDY)  # cached, so the first requests below start from them
    hits = engine.prompt_cache_stats().hits
    results: dict[int, object] = {}

    def work(i: int) -> None:
        results[i] = engine.complete(*jobs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, (prompt, params) in enumerate(jobs):
        assert_same_completion(results[i], cold(engines, "gemma", prompt, params))
    assert engine.prompt_cache_stats().hits >= hits + 2


@pytest.mark.parametrize("run", ["llama", "gemma"])
def test_conversations_moved_out_of_a_full_context_come_back_right(engines, run: str) -> None:
    """Five chats in a context with room for about two, and two sequences: the others are copied out to RAM
    and loaded back when their chat goes on (Gemma's cut at the end of their prompt, since a saved state
    keeps only the last window of a sliding-window layer), and every answer is the one read from scratch."""
    engine = engines(run, n_ctx=768, max_sequences=2)
    system = INSTRUCTIONS + " " + INSTRUCTIONS  # each chat outgrows Gemma's window
    chats = [chat_prompts(engines(run, prompt_cache_mb=0), [q, QUESTIONS[0]], system) for q in QUESTIONS[1:]]
    assert engine.count_tokens(chats[0][0]) > 128
    for turn in (0, 1):
        for chat in chats:
            assert_same_completion(engine.complete(chat[turn], GREEDY), cold(engines, run, chat[turn]))
    stats = engine.prompt_cache_stats()
    assert stats.stored >= 3 and stats.loaded >= 3 and stats.unusable == 0


def test_the_budget_bounds_the_cache_least_recently_used_first(engines, prefill_starts) -> None:
    budget_mb = 0.25
    engine = engines("llama", prompt_cache_mb=budget_mb)
    chats = [chat_prompts(engines("llama", prompt_cache_mb=0), [q, QUESTIONS[0]]) for q in QUESTIONS]
    for chat in chats:
        assert_same_completion(engine.complete(chat[0], GREEDY), cold(engines, "llama", chat[0]))
        stats = engine.prompt_cache_stats()
        assert 0 < stats.cached_bytes <= budget_mb * 2**20
    assert stats.dropped >= 2
    starts = prefill_starts(engine)
    for chat in (chats[-1], chats[0]):  # the latest chat is cached, the oldest was dropped
        assert_same_completion(engine.complete(chat[1], GREEDY), cold(engines, "llama", chat[1]))
    shared = engine.count_tokens(engine.render_chat([{"role": "system", "content": INSTRUCTIONS}]))
    assert starts[0] >= engine.count_tokens(chats[-1][0]) - 1
    assert shared - 1 <= starts[1] < engine.count_tokens(chats[0][0]) - 1  # only the instructions were cached


def test_a_prefix_missing_sliding_window_cells_is_read_from_scratch(engines) -> None:
    """A sliding-window layer recycles the cells no later token of their sequence can see; a shorter prefix
    cut from such a sequence lacks them (here they are removed by hand, as llama.cpp does under load)."""
    engine = engines("gemma", max_sequences=2)
    first, second = (chat_prompts(engines("gemma", prompt_cache_mb=0), [q])[0] for q in ("hello there", "good evening"))
    engine.complete(first, GREEDY)
    runtime, cache = engine._runtime, engine._scheduler._cache
    (entry,) = [e for e in cache._entries if e.seq is not None and len(e.tokens) > engine.count_tokens(first)]
    runtime._ll.llama_memory_seq_rm(runtime._memory, entry.seq, 0, 100)  # as if recycled: positions 0-99
    unusable = engine.prompt_cache_stats().unusable
    assert_same_completion(engine.complete(second, GREEDY), cold(engines, "gemma", second))
    assert engine.prompt_cache_stats().unusable == unusable + 1


def test_a_cache_directory_keeps_conversations_for_the_next_engine(tiny_llama_run: Path, tmp_path: Path, engines):
    chat = chat_prompts(engines("llama", prompt_cache_mb=0), QUESTIONS[:2])
    first = load_engine(tiny_llama_run, engine="llamacpp", base_dtype="f32", prompt_cache_dir=tmp_path)
    first.complete(chat[0], GREEDY)
    first.close()  # the cached conversation is written out
    (state,) = tmp_path.glob("*/*.kv")
    (state.parent / "damaged.kv").write_bytes(state.read_bytes()[:20])
    second = load_engine(tiny_llama_run, engine="llamacpp", base_dtype="f32", prompt_cache_dir=tmp_path)
    try:
        assert second.prompt_cache_stats().stored_entries == 1
        assert not (state.parent / "damaged.kv").exists()
        assert_same_completion(second.complete(chat[1], GREEDY), cold(engines, "llama", chat[1]))
        assert second.prompt_cache_stats().loaded == 1
    finally:
        second.close()
