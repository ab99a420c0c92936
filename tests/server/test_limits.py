"""Capacity: a full request queue answers 429; loaded engines are kept to --max-loaded-models (LRU)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.live import TINY_MODEL, free_port, running_server


def test_full_queue_is_429(server_settings, tmp_path: Path) -> None:
    settings = server_settings.model_copy(
        update={"no_auth": True, "max_queue": 1, "port": free_port(), "data_dir": tmp_path, "run_worker": False}
    )
    body = {"model": TINY_MODEL, "prompt": "Customer: hi\nAgent:", "max_tokens": 400, "logit_bias": {"2": -100}}
    with running_server(settings) as url:
        with httpx.Client(timeout=120) as http, ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(lambda _: http.post(f"{url}/completions", json=body), range(6)))
        codes = sorted(r.status_code for r in responses)
        assert codes[0] == 200 and codes[-1] == 429, codes
        assert all(r.json()["error"]["type"] == "rate_limit_error" for r in responses if r.status_code == 429)
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        assert client.completions.create(model=TINY_MODEL, prompt="hi", max_tokens=2).choices  # slot freed


def test_reserve_refuses_past_the_limit_and_frees_on_release() -> None:
    from caretune.server.engine_pool import EnginePool
    from caretune.server.errors import Overloaded

    pool = EnginePool(capacity=1, engine_kind="transformers", max_in_flight=2)
    slots = [pool.reserve("m"), pool.reserve("m")]
    with pytest.raises(Overloaded):
        pool.reserve("m")
    pool.reserve("other").release()  # limits are per model
    slots[0].release()
    slots[0].release()  # releasing twice gives back one slot only
    pool.reserve("m")
    with pytest.raises(Overloaded):
        pool.reserve("m")


def test_models_beyond_the_memory_limit_are_reloaded_on_demand(
    server_settings, tiny_llama_dir: Path, tmp_path: Path
) -> None:
    settings = server_settings.model_copy(
        update={
            "no_auth": True, "max_loaded_models": 1, "port": free_port(), "data_dir": tmp_path,
            "run_worker": False, "models": [*server_settings.models, f"tiny-llama={tiny_llama_dir}"],
        }
    )
    with running_server(settings) as url:
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        for model in (TINY_MODEL, "tiny-llama", TINY_MODEL):
            assert client.completions.create(model=model, prompt="hello", max_tokens=3).model == model


@pytest.mark.parametrize("capacity", [1, 2])
def test_engine_pool_keeps_the_most_recent(tiny_gemma_dir: Path, tiny_llama_dir: Path, capacity: int) -> None:
    from caretune.server.catalog import ServedModel
    from caretune.server.engine_pool import EnginePool

    pool = EnginePool(capacity=capacity, engine_kind="transformers", max_in_flight=4)
    gemma = ServedModel(id="g", source=str(tiny_gemma_dir), created=0, owned_by="system")
    llama = ServedModel(id="l", source=str(tiny_llama_dir), created=0, owned_by="system")
    first = pool.get(gemma)
    pool.get(llama)
    assert [model for model, _ in pool.loaded_engines()] == (["l"] if capacity == 1 else ["g", "l"])
    assert (pool.get(gemma) is first) == (capacity == 2)


def test_an_evicted_engine_is_closed_once_its_model_has_no_request_in_flight(
    tiny_llama_run: Path, tiny_gemma_run: Path
) -> None:
    """An engine leaving the pool frees its memory (before, it stayed loaded for good), but not under a
    request still using it."""
    import time

    from caretune.engines import SamplingParams
    from caretune.server.catalog import ServedModel
    from caretune.server.engine_pool import EnginePool

    pool = EnginePool(capacity=1, engine_kind="llamacpp", max_in_flight=4, prompt_cache_mb=0)
    llama = ServedModel(id="l", source=str(tiny_llama_run), created=0, owned_by="system")
    gemma = ServedModel(id="g", source=str(tiny_gemma_run), created=0, owned_by="system")
    slot = pool.reserve("l")
    first = pool.get(llama)
    second = pool.get(gemma)
    assert [model_id for model_id, _ in pool.loaded_engines()] == ["g"]
    greedy = SamplingParams(temperature=0, max_tokens=3, logit_bias={2: -100})  # <eos> banned: 3 tokens each time
    assert first.complete("hello", greedy).completion_tokens == 3  # still serving its request
    slot.release()
    deadline = time.monotonic() + 10
    while not first._closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first._closed and not second._closed
    assert second.complete("hello", greedy).completion_tokens == 3
    second.close()


def test_threads_setting_reaches_the_engine(tiny_gemma_dir: Path) -> None:
    import torch

    from caretune.server.catalog import ServedModel
    from caretune.server.engine_pool import EnginePool

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        pool = EnginePool(capacity=1, engine_kind="transformers", max_in_flight=1, threads=1)
        pool.get(ServedModel(id="tiny", source=str(tiny_gemma_dir), created=0, owned_by="system"))
        assert torch.get_num_threads() == 1  # what --threads 1 asks of the transformers engine
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("mb", [0.0, 0.5])
def test_prompt_cache_and_lookup_settings_reach_the_llamacpp_engine(tiny_llama_run: Path, tmp_path: Path, mb: float):
    from caretune.server.app import build_state
    from caretune.server.catalog import ServedModel
    from caretune.server.settings import ServerSettings

    settings = ServerSettings(
        data_dir=tmp_path, engine="llamacpp", prompt_cache_mb=mb, prompt_cache_dir=tmp_path / "kv", prompt_lookup=3,
        run_worker=False,
    )
    engine = build_state(settings).engines.get(
        ServedModel(id="tiny", source=str(tiny_llama_run), created=0, owned_by="system")
    )
    try:
        stats = engine.prompt_cache_stats()
        assert (stats.budget_bytes if stats else 0) == int(mb * 2**20)
        assert (tmp_path / "kv").is_dir() == (mb > 0)  # where states that leave memory go
        assert engine._scheduler._draft_limit == 3
    finally:
        engine.close()
