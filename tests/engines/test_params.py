"""Each rule about a request, where it lives (``caretune.engines.params``), through the engine itself; the
same rules through the API are in tests/server/test_rules_api.py."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from caretune.engines import EngineError, SamplingParams
from caretune.engines.params import MAX_STOPS, ContextOverflow, EmptyPrompt, generation_budget

PROMPT = "Customer: my order has not arrived yet\nAgent:"


def test_at_most_four_stops() -> None:
    assert SamplingParams(stop=["a"] * MAX_STOPS).stop == ["a"] * MAX_STOPS
    with pytest.raises(ValidationError, match="stop"):
        SamplingParams(stop=["a", "b", "c", "d", "e"])


def test_best_of_covers_n_and_cannot_stream() -> None:
    with pytest.raises(ValidationError, match="best_of"):
        SamplingParams(n=3, best_of=2)
    with pytest.raises(EngineError) as info:
        SamplingParams(n=1, best_of=2).check_streamable()
    assert info.value.param == "best_of"
    SamplingParams(n=2, best_of=2).check_streamable()


def test_the_context_window_rule() -> None:
    assert generation_budget(100, 90, 10) == 10
    assert generation_budget(100, 90, None) == 10  # no max_tokens: what the window leaves
    assert generation_budget(100, 100, 0) == 0  # an echo of a full window asks for nothing more
    for prompt_tokens, max_tokens in ((90, 11), (100, None), (101, 0)):
        with pytest.raises(ContextOverflow, match="maximum context length is 100"):
            generation_budget(100, prompt_tokens, max_tokens)
    with pytest.raises(EmptyPrompt):
        generation_budget(100, 0, 4)


def test_the_engines_apply_the_same_rules(hf_llama_run_engine, llamacpp_llama_run_engine) -> None:
    for engine in (hf_llama_run_engine, llamacpp_llama_run_engine):
        too_long = SamplingParams(max_tokens=engine.context_length)
        with pytest.raises(ContextOverflow):
            engine.complete(PROMPT, too_long)
        with pytest.raises(EngineError, match="best_of"):
            list(engine.stream(PROMPT, SamplingParams(n=1, best_of=2)))
        with pytest.raises(EngineError) as info:
            engine.complete([engine.vocab_size], SamplingParams(max_tokens=2))
        assert info.value.param == "prompt"


def test_the_candidates_the_schema_allows_are_what_llamacpp_decodes(llamacpp_llama_run_engine) -> None:
    """``n``/``best_of`` are bounded by MAX_CANDIDATES because the llama.cpp engine decodes that many sequences
    side by side: the bound is real, not OpenAI's 128 that would fail later."""
    from caretune.engines.params import MAX_CANDIDATES

    result = llamacpp_llama_run_engine.complete(PROMPT, SamplingParams(n=MAX_CANDIDATES, max_tokens=1))
    assert len(result.choices) == MAX_CANDIDATES
    with pytest.raises(ValidationError, match="best_of"):
        SamplingParams(best_of=MAX_CANDIDATES + 1)
