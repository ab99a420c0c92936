"""Many fine-tunes on one base: llama.cpp engines of LoRA runs on the same base GGUF share one model, context
and decode thread, and each still answers with its own adapter, alone or beside the others, cached or not."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from caretune.engines import SamplingParams, load_engine
from caretune.engines.params import EngineError
from caretune.runs import RunInfo
from tests.conftest import make_lora_run
from tests.engines.completions import assert_same_completion

GREEDY = SamplingParams(temperature=0, max_tokens=16, logprobs=1, logit_bias={2: -100})  # <eos> banned
PROMPTS = [
    "Customer: my order has not arrived yet\nAgent:",
    "Customer: can I get a refund for my jacket\nAgent:",
    "Customer: how do I reset my password\nAgent:",
]
OPTIONS = {"base_dtype": "f32", "max_sequences": 4}


@pytest.fixture(scope="module")
def brand_runs(tiny_gemma_run: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three LoRA runs (three adapters) on the tiny Gemma that ``tiny_gemma_run`` fine-tuned."""
    base = Path(RunInfo.load(tiny_gemma_run).base_model)
    root = tmp_path_factory.mktemp("brands")
    return [make_lora_run(base, root / f"brand-{seed}", seed=seed) for seed in (11, 12, 13)]


@pytest.fixture(scope="module")
def alone(brand_runs: list[Path]) -> dict[tuple[int, str], object]:
    """Each run's greedy completion of each prompt, from an engine loaded with no other on its base."""
    answers = {}
    for i, run in enumerate(brand_runs):
        engine = load_engine(run, engine="llamacpp", prompt_cache_mb=0, **OPTIONS)
        try:
            answers.update({(i, prompt): engine.complete(prompt, GREEDY) for prompt in PROMPTS})
        finally:
            engine.close()
    return answers


def test_the_adapters_differ(alone) -> None:
    """Otherwise the tests below could not tell one adapter's answer from another's."""
    assert len({alone[i, PROMPTS[0]].choices[0].text for i in range(3)}) == 3


def test_fine_tunes_of_one_base_share_its_context_and_each_answers_with_its_own_adapter(brand_runs, alone) -> None:
    engines = [load_engine(run, engine="llamacpp", **OPTIONS) for run in brand_runs]
    try:
        assert engines[0]._runtime is engines[1]._runtime is engines[2]._runtime
        assert engines[0].prompting.tokenizer is engines[2].prompting.tokenizer  # identical files, one copy
        # Concurrent requests of all three: their steps decode one adapter's sequences at a time.
        jobs = [(i, prompt) for prompt in PROMPTS for i in range(3)] * 2  # the second round starts from the cache
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(lambda job: engines[job[0]].complete(job[1], GREEDY), jobs))
        for job, result in zip(jobs, results):
            assert_same_completion(result, alone[job])
        assert engines[0].prompt_cache_stats().hits > 0
    finally:
        for engine in engines:
            engine.close()


def test_a_cached_prompt_of_one_adapter_is_not_reused_by_another(brand_runs, alone) -> None:
    first, second = (load_engine(run, engine="llamacpp", **OPTIONS) for run in brand_runs[:2])
    try:
        assert_same_completion(first.complete(PROMPTS[0], GREEDY), alone[0, PROMPTS[0]])
        hits = first.prompt_cache_stats().hits
        assert_same_completion(second.complete(PROMPTS[0], GREEDY), alone[1, PROMPTS[0]])
        assert second.prompt_cache_stats().hits == hits  # the same tokens, another adapter: read from scratch
        assert_same_completion(first.complete(PROMPTS[0], GREEDY), alone[0, PROMPTS[0]])
        assert first.prompt_cache_stats().hits == hits + 1
    finally:
        first.close()
        second.close()


def test_closing_one_fine_tune_leaves_the_others_right(brand_runs, alone) -> None:
    engines = [load_engine(run, engine="llamacpp", **OPTIONS) for run in brand_runs]
    try:
        long_params = SamplingParams(temperature=0, max_tokens=400, logit_bias={2: -100})
        started = threading.Event()
        outcome: list[BaseException | object] = []

        def long_request() -> None:  # the closing engine's request, running as it closes
            try:
                for _ in engines[1].stream(PROMPTS[1], long_params):
                    started.set()
                outcome.append("finished")
            except EngineError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=long_request)
        thread.start()
        assert started.wait(30)
        engines[1].close()
        thread.join(30)
        assert isinstance(outcome[0], EngineError)  # its own request ends, with a reason
        with pytest.raises(EngineError):
            engines[1].complete(PROMPTS[0], GREEDY)
        for i in (0, 2):
            for prompt in PROMPTS:
                assert_same_completion(engines[i].complete(prompt, GREEDY), alone[i, prompt])
    finally:
        for engine in engines:
            engine.close()


def test_the_last_engine_on_a_base_frees_it_and_the_next_load_starts_afresh(brand_runs, alone) -> None:
    from caretune.engines import shared_base

    engine = load_engine(brand_runs[0], engine="llamacpp", **OPTIONS)
    key = engine._base.key
    engine.close()
    assert key not in shared_base._bases
    again = load_engine(brand_runs[2], engine="llamacpp", **OPTIONS)
    try:
        assert again._base.key == key and again._base is not engine._base
        assert_same_completion(again.complete(PROMPTS[2], GREEDY), alone[2, PROMPTS[2]])
    finally:
        again.close()
