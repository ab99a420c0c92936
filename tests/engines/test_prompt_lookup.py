"""Prompt lookup: drafts are what followed the latest earlier occurrence of the sequence's last tokens, and
the llama.cpp engine keeps a drafted token only where plain greedy decoding would have chosen it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from caretune.engines import SamplingParams, load_engine
from caretune.engines.prompt_lookup import draft_tokens
from tests.engines.completions import assert_same_completion


def test_the_longest_latest_match_gives_the_draft() -> None:
    #         0  1  2  3  4  5  6  7  8  9
    tokens = [5, 6, 7, 1, 2, 9, 6, 7, 3, 4, 6, 7]
    assert draft_tokens(tokens, 3, max_ngram=2) == [3, 4, 6]  # "6 7" last occurred at 6-7
    assert draft_tokens(tokens, 2, max_ngram=1) == [3, 4]
    assert draft_tokens([8, 5, 6, 7, 1, 9, 6, 7], 2, max_ngram=3) == [1, 9]  # only "6 7" occurred before
    assert draft_tokens([1, 2, 3, 4, 2, 3], 5, max_ngram=3) == [4, 2, 3]  # cut at the sequence's end


def test_no_draft_without_a_match_or_room() -> None:
    assert draft_tokens([1, 2, 3, 4], 4) == []
    assert draft_tokens([1, 2, 1], 0) == []
    assert draft_tokens([7], 4) == []


@pytest.fixture(scope="module")
def engines(tiny_gemma_run: Path, tiny_llama_run: Path):
    """Per run, the llama.cpp engine (f32) with prompt lookup, and the plain one (no lookup, no cache)."""
    opened = {
        run: (
            load_engine(path, engine="llamacpp", base_dtype="f32", prompt_lookup=6),
            load_engine(path, engine="llamacpp", base_dtype="f32", prompt_cache_mb=0),
        )
        for run, path in (("gemma", tiny_gemma_run), ("llama", tiny_llama_run))
    }
    yield opened
    for pair in opened.values():
        for engine in pair:
            engine.close()


GREEDY = SamplingParams(temperature=0, max_tokens=40, logprobs=2, logit_bias={2: -100})  # <eos> banned
PROMPTS = [
    "Customer: my order has not arrived yet\nAgent:",
    "Customer: where is my parcel it was due yesterday, my parcel\nAgent: your parcel",
    "Customer: hi\nAgent: Hello!<eos>\nCustomer: can I get a refund for my jacket\nAgent:",
]


@pytest.mark.parametrize("run", ["gemma", "llama"])
def test_greedy_answers_with_prompt_lookup_are_those_of_plain_decoding(engines, run: str) -> None:
    """Every drafted token kept saves a decode, and the answers are the plain ones."""
    lookup, plain = engines[run]
    scheduler = lookup._scheduler
    decodes, accepted = lookup._runtime.decode_calls, scheduler.accepted
    for prompt in PROMPTS:
        result = lookup.complete(prompt, GREEDY)
        assert_same_completion(result, plain.complete(prompt, GREEDY))
        assert result.completion_tokens == GREEDY.max_tokens
    kept = scheduler.accepted - accepted
    assert kept > 0
    # a decode for each prompt (its first token), then one a step, each step's token plus the drafts kept
    assert lookup._runtime.decode_calls - decodes == len(PROMPTS) * GREEDY.max_tokens - kept


def test_drafts_cut_by_stops_and_budgets_and_beside_other_requests(engines) -> None:
    """A candidate that ends inside its draft (a stop, its budget) keeps only what it chose, in its answer
    and in the prompt cache; several drafting candidates share a step."""
    lookup, plain = engines["gemma"]
    full = plain.complete(PROMPTS[1], GREEDY).choices[0].text
    cases = [
        GREEDY.model_copy(update={"stop": [full[12:16]]}),
        GREEDY.model_copy(update={"max_tokens": 7}),
        GREEDY.model_copy(update={"n": 2}),
    ]
    results: dict[int, object] = {}

    def work(i: int) -> None:
        results[i] = lookup.complete(PROMPTS[1], cases[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(cases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, params in enumerate(cases):
        assert_same_completion(results[i], plain.complete(PROMPTS[1], params))
    follow_up = PROMPTS[1] + results[1].choices[0].text + "<eos>\nCustomer: thanks\nAgent:"
    assert_same_completion(lookup.complete(follow_up, GREEDY), plain.complete(follow_up, GREEDY))


def test_sampled_candidates_do_not_draft(engines) -> None:
    lookup, _ = engines["llama"]
    drafted = lookup._scheduler.drafted
    sampled = SamplingParams(temperature=0.8, max_tokens=20, seed=3)
    assert lookup.complete(PROMPTS[1], sampled) == lookup.complete(PROMPTS[1], sampled)
    assert lookup._scheduler.drafted == drafted
