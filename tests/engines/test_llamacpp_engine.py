"""The llama.cpp engine: base GGUF + LoRA adapter GGUF, same answers as transformers, batched and thread-safe."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading

import pytest
import uvloop

from caretune.engines import EngineError, SamplingParams
from tests.engines.completions import assert_same_completion

PROMPTS = [
    "Customer: my order has not arrived yet\nAgent:",
    "Customer: how do I reset my password\nAgent:",
    "You are a customer support agent for Acme.\n\nCustomer: can I get a refund for my jacket\nAgent:",
    "Customer: hi\nAgent: Hello!<eos>\nCustomer: where is my parcel it was due yesterday\nAgent:",
]


def test_the_adapter_is_exported_and_applied_at_load_time(llamacpp_llama_run_engine, tiny_llama_run) -> None:
    assert llamacpp_llama_run_engine.lora_path == tiny_llama_run / "export" / "adapter.gguf"
    assert llamacpp_llama_run_engine.lora_path.is_file()


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_parity_with_transformers_on_f32(llamacpp_llama_run_engine, hf_llama_run_engine, prompt) -> None:
    params = SamplingParams(temperature=0, max_tokens=24, logprobs=1)
    ours = llamacpp_llama_run_engine.complete(prompt, params)
    reference = hf_llama_run_engine.complete(prompt, params)
    assert ours.choices[0].text == reference.choices[0].text
    assert (ours.prompt_tokens, ours.completion_tokens) == (reference.prompt_tokens, reference.completion_tokens)
    assert ours.choices[0].logprobs.token_logprobs == pytest.approx(
        reference.choices[0].logprobs.token_logprobs, abs=1e-3
    )


def test_seeded_sampling_is_reproducible(llamacpp_llama_run_engine) -> None:
    """Exact logits differ in the last bits between engines, so sampled text is compared within one engine."""
    params = SamplingParams(temperature=0.7, top_p=0.95, max_tokens=16, n=3, seed=11, presence_penalty=0.5)
    first = llamacpp_llama_run_engine.complete(PROMPTS[0], params)
    assert first == llamacpp_llama_run_engine.complete(PROMPTS[0], params)
    assert len({c.text for c in first.choices}) == 3


def test_negative_seed_and_empty_prompt(llamacpp_llama_run_engine) -> None:
    """The shared sampler folds any seed into the generator's range; an empty prompt never reaches llama.cpp."""
    params = SamplingParams(temperature=0.7, max_tokens=8, seed=-5)
    assert llamacpp_llama_run_engine.complete(PROMPTS[0], params) == llamacpp_llama_run_engine.complete(
        PROMPTS[0], params
    )
    with pytest.raises(EngineError, match="empty"):
        llamacpp_llama_run_engine.complete("", params)


def test_best_of_keeps_the_most_likely_candidate(llamacpp_llama_run_engine) -> None:
    every = llamacpp_llama_run_engine.complete(
        PROMPTS[2], SamplingParams(temperature=1.0, max_tokens=8, n=4, seed=5, logprobs=0)
    )
    best = llamacpp_llama_run_engine.complete(
        PROMPTS[2], SamplingParams(temperature=1.0, max_tokens=8, best_of=4, seed=5)
    )
    means = [sum(c.logprobs.token_logprobs) / len(c.logprobs.token_logprobs) for c in every.choices]
    assert best.choices[0].text == every.choices[means.index(max(means))].text
    assert best.completion_tokens == every.completion_tokens


def test_stop_and_echo_behave_as_in_transformers(llamacpp_llama_run_engine, hf_llama_run_engine) -> None:
    text = hf_llama_run_engine.complete(PROMPTS[1], SamplingParams(temperature=0, max_tokens=16)).choices[0].text
    cases = [
        SamplingParams(temperature=0, max_tokens=16, stop=[text[4:8]]),
        SamplingParams(temperature=0, max_tokens=4, echo=True, logprobs=2),
        SamplingParams(temperature=0, max_tokens=0, echo=True),
    ]
    for params in cases:
        ours = llamacpp_llama_run_engine.complete(PROMPTS[1], params)
        reference = hf_llama_run_engine.complete(PROMPTS[1], params)
        assert [(c.text, c.finish_reason) for c in ours.choices] == [
            (c.text, c.finish_reason) for c in reference.choices
        ]
        assert ours.completion_tokens == reference.completion_tokens
        if params.logprobs:
            assert ours.choices[0].logprobs.tokens == reference.choices[0].logprobs.tokens


def test_concurrent_streams_are_batched_and_match_sequential_results(llamacpp_llama_run_engine) -> None:
    params = SamplingParams(temperature=0, max_tokens=20)
    expected = [llamacpp_llama_run_engine.complete(p, params).choices[0].text for p in PROMPTS]
    results: dict[int, str] = {}

    def work(i: int) -> None:
        results[i] = "".join(e.text for e in llamacpp_llama_run_engine.stream(PROMPTS[i % 4], params))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [results[i] for i in range(8)] == [expected[i % 4] for i in range(8)]


def test_concurrent_requests_share_decode_steps(llamacpp_llama_run_engine) -> None:
    """8 callers x 30 tokens: one decode per step for all of them, not one per token per caller."""
    runtime = llamacpp_llama_run_engine._runtime
    params = SamplingParams(temperature=0, max_tokens=30, logit_bias={2: -100})  # <eos> banned: all run 30
    barrier = threading.Barrier(8)
    counts: list[int] = []

    def work(i: int) -> None:
        barrier.wait()
        counts.append(llamacpp_llama_run_engine.complete(PROMPTS[i % 4], params).completion_tokens)

    before = runtime.decode_calls
    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts == [30] * 8
    assert runtime.decode_calls - before < 8 * 30 / 2


def test_abandoned_stream_frees_its_sequence(llamacpp_llama_run_engine) -> None:
    params = SamplingParams(temperature=0, max_tokens=50)
    for _ in range(20):  # more than there are sequence slots: each abandoned one must be freed
        stream = llamacpp_llama_run_engine.stream(PROMPTS[0], params)
        next(stream)
        stream.close()
    result = llamacpp_llama_run_engine.complete(PROMPTS[0], SamplingParams(temperature=0, max_tokens=5))
    assert result.completion_tokens == 5


def test_async_streams_give_the_blocking_streams_events_and_share_decode_steps(llamacpp_llama_run_engine) -> None:
    """The server's path: the decode thread hands events to the event loop directly; 8 at once still batch."""
    engine = llamacpp_llama_run_engine
    params = SamplingParams(temperature=0, max_tokens=20, logit_bias={2: -100})
    expected = [list(engine.stream(p, params)) for p in PROMPTS]

    async def collect(prompt: str) -> list:
        return [event async for event in engine.astream(prompt, params)]

    async def all_at_once() -> list[list]:
        return await asyncio.gather(*(collect(PROMPTS[i % 4]) for i in range(8)))

    before = engine._runtime.decode_calls
    results = asyncio.run(all_at_once())
    assert results == [expected[i % 4] for i in range(8)]
    assert results[0][-1].usage.completion_tokens == 20
    assert engine._runtime.decode_calls - before < 8 * 20 / 2


@pytest.fixture
def decode_starts(llamacpp_llama_run_engine, monkeypatch) -> list[list]:
    """The batch of every llama.cpp decode, recorded as the decode starts; the prompt cache is off, so each
    prefill reads its whole prompt."""
    monkeypatch.setattr(llamacpp_llama_run_engine._scheduler, "_cache", None)
    runtime = llamacpp_llama_run_engine._runtime
    starts: list[list] = []
    decode = runtime.decode

    def recording(tokens):
        starts.append(list(tokens))
        return decode(tokens)

    monkeypatch.setattr(runtime, "decode", recording)
    return starts


def _burst(engine, params: SamplingParams, on_first_event=lambda: None) -> list[list]:
    """Every prompt streamed at once from one event loop (submitted in PROMPTS order); each stream's events.

    The loop is uvloop's, as in the server: a token handed to it wakes it without giving up the GIL."""

    async def collect(prompt: str) -> list:
        events = []
        async for event in engine.astream(prompt, params):
            if not events:
                on_first_event()
            events.append(event)
        return events

    async def all_at_once() -> list[list]:
        return await asyncio.gather(*(collect(p) for p in PROMPTS))

    return uvloop.run(all_at_once())


def test_prompts_that_arrive_together_are_prefilled_one_at_a_time(llamacpp_llama_run_engine, decode_starts) -> None:
    """Each new prompt gets a prefill of its own, oldest first: the first of a burst answers after one
    prefill instead of after all of them."""
    engine = llamacpp_llama_run_engine
    _burst(engine, SamplingParams(temperature=0, max_tokens=3, logit_bias={2: -100}))
    prefills = [batch for batch in decode_starts if any(token.pos == 0 for token in batch)]
    assert [len(batch) for batch in prefills] == [engine.count_tokens(p) for p in PROMPTS]
    assert all(len({token.seq_ids for token in batch}) == 1 for batch in prefills)


def test_an_event_loop_takes_each_first_token_before_the_next_decode(llamacpp_llama_run_engine, decode_starts) -> None:
    """The decode thread waits for the loop to take a first token: a decode started at once would hold the
    cores while the loop waited for one to send the token on."""
    seen: list[int] = []
    _burst(
        llamacpp_llama_run_engine,
        SamplingParams(temperature=0, max_tokens=3, logit_bias={2: -100}),
        on_first_event=lambda: seen.append(len(decode_starts)),
    )
    assert seen == [1, 2, 3, 4]  # stream k saw its first event after k prefills, before any further decode


def test_abandoned_async_stream_frees_its_sequence(llamacpp_llama_run_engine) -> None:
    params = SamplingParams(temperature=0, max_tokens=50)

    async def abandon() -> None:
        for _ in range(20):  # more than there are sequence slots
            stream = llamacpp_llama_run_engine.astream(PROMPTS[0], params)
            await anext(stream)
            await stream.aclose()

    asyncio.run(abandon())
    result = llamacpp_llama_run_engine.complete(PROMPTS[0], SamplingParams(temperature=0, max_tokens=5))
    assert result.completion_tokens == 5


def test_async_stream_refuses_best_of_and_reports_engine_errors(llamacpp_llama_run_engine) -> None:
    async def first(params: SamplingParams, prompt: str = PROMPTS[0]):
        return await anext(llamacpp_llama_run_engine.astream(prompt, params))

    with pytest.raises(EngineError, match="best_of"):
        asyncio.run(first(SamplingParams(n=1, best_of=2)))
    with pytest.raises(EngineError, match="empty"):
        asyncio.run(first(SamplingParams(), prompt=""))


@pytest.mark.parametrize("engine_name", ["llamacpp_llama_run_engine", "hf_llama_run_engine"])
def test_a_token_array_prompt_is_its_text_tokenized(engine_name: str, request: pytest.FixtureRequest) -> None:
    engine = request.getfixturevalue(engine_name)
    params = SamplingParams(temperature=0, max_tokens=12, logprobs=2)
    ids = engine.tokenize(PROMPTS[1])
    by_text, by_ids = engine.complete(PROMPTS[1], params), engine.complete(ids, params)
    assert_same_completion(by_ids, by_text)
    assert by_ids.prompt_tokens == len(ids) == engine.count_tokens(ids)
    echoed = engine.complete(ids, params.model_copy(update={"echo": True})).choices[0].text
    assert echoed == engine.detokenize(ids) + by_text.choices[0].text
    with pytest.raises(EngineError, match="token -1 at position 1"):
        engine.complete([ids[0], -1], params)
    with pytest.raises(EngineError, match=f"token {engine.vocab_size} at position 0"):
        list(engine.stream([engine.vocab_size], params))


def test_too_many_candidates_is_a_clear_error(tiny_llama_run) -> None:
    """An engine made to decode fewer sequences than the API allows names the parameter that asked for more."""
    from caretune.engines import load_engine

    engine = load_engine(tiny_llama_run, engine="llamacpp", base_dtype="f32", max_sequences=2)
    try:
        with pytest.raises(EngineError, match="at most 2 candidates") as info:
            engine.complete(PROMPTS[0], SamplingParams(n=1, best_of=3))
        assert info.value.param == "best_of"
    finally:
        engine.close()


def test_auto_engine_bare_gguf_and_close(llamacpp_llama_run_engine, hf_llama_run_engine) -> None:
    from caretune.engines import load_engine

    bare = load_engine(llamacpp_llama_run_engine.model_path)
    assert type(bare).__name__ == "LlamaCppEngine"
    assert bare.count_tokens(PROMPTS[0]) == hf_llama_run_engine.count_tokens(PROMPTS[0])
    running = bare.stream(PROMPTS[0], SamplingParams(temperature=0, max_tokens=400))
    next(running)
    bare.close()  # e.g. the server evicting the model: the running request fails, it does not hang
    with pytest.raises(EngineError):
        list(running)
    with pytest.raises(EngineError):
        bare.complete(PROMPTS[0], SamplingParams(max_tokens=1))


def test_llamacpp_log_goes_to_logging_not_the_terminal(llamacpp_llama_run_engine, capfd, caplog) -> None:
    from caretune.engines.llamacpp_runtime import LlamaRuntime, RuntimeConfig

    capfd.readouterr()
    with caplog.at_level("DEBUG", logger="caretune.llamacpp"):
        LlamaRuntime(llamacpp_llama_run_engine.model_path, RuntimeConfig(n_ctx=256, n_seq=1)).close()
    assert any("llama" in r.getMessage() for r in caplog.records)  # what llama.cpp said on loading
    assert capfd.readouterr().err == ""


def test_a_corrupt_gguf_fails_with_llamacpp_reason(tmp_path) -> None:
    from caretune.engines.llamacpp_runtime import LlamaRuntime, RuntimeConfig
    from caretune.errors import CaretuneError

    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(CaretuneError, match=r"could not load .*broken\.gguf: .*failed to (read|load)"):
        LlamaRuntime(broken, RuntimeConfig(n_ctx=256, n_seq=1))


# Run in a fresh process: it records GOMP_SPINCOUNT as each of torch and llama_cpp is first imported.
_SPIN_PROBE = """
import importlib.abc, json, os, sys

seen = {}

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in ("torch", "llama_cpp"):
            seen.setdefault(name, os.environ.get("GOMP_SPINCOUNT"))

sys.meta_path.insert(0, Watch())
from caretune.engines import load_engine

load_engine(sys.argv[1], engine="llamacpp", base_dtype="f32").close()
print(json.dumps(seen))
"""


def test_the_short_openmp_spin_is_set_before_torch_or_llama_cpp_loads(tiny_llama_run) -> None:
    """libgomp reads GOMP_SPINCOUNT once, when the first of torch (the tokenizer's) or llama.cpp loads it; set
    later, it changed nothing, and OpenMP's workers kept a core spinning for milliseconds after each decode."""
    env = {k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"}
    run = subprocess.run(
        [sys.executable, "-c", _SPIN_PROBE, str(tiny_llama_run)], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == {"torch": "1000", "llama_cpp": "1000"}
