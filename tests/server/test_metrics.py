"""``/metrics`` on a live server with the llama.cpp engine: after real requests through the official SDK, the
counters and histograms moved by exactly what the answers say they did; the live figures (loaded models,
slots, the KV cache, jobs) read what the server holds; admins only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.server.live import free_port, new_key, running_server

BOT = "bot"


class Served(NamedTuple):
    site: str  # the root URL
    key: str  # an admin's
    data_dir: Path


@pytest.fixture(scope="module")
def metrics_server(tiny_llama_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of the tiny Llama run on llama.cpp, its worker off (jobs stay where the test puts them)."""
    from caretune.server.settings import ServerSettings

    settings = ServerSettings(
        port=free_port(), data_dir=tmp_path_factory.mktemp("metrics"), models=[f"{BOT}={tiny_llama_run}"],
        engine="llamacpp", run_worker=False, gpt3_aliases=False,
    )
    key = new_key(settings)
    with running_server(settings) as url:
        yield Served(url.removesuffix("/v1"), key, settings.data_dir)


class Scrape:
    """One read of ``/metrics``: sample values by name and labels."""

    def __init__(self, site: str, key: str) -> None:
        response = httpx.get(f"{site}/metrics", headers={"Authorization": f"Bearer {key}"})
        response.raise_for_status()
        assert response.headers["content-type"].startswith("text/plain")
        self.samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    def __call__(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def has(self, name: str, **labels: str) -> bool:
        return (name, tuple(sorted(labels.items()))) in self.samples


def moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after(name, **labels) - before(name, **labels)


def test_answers_move_the_counters_and_histograms_by_their_usage(metrics_server: Served) -> None:
    site, key, _ = metrics_server
    client = openai.OpenAI(base_url=f"{site}/v1", api_key=key, max_retries=0)
    messages = [{"role": "user", "content": "where is my order"}]
    client.chat.completions.create(model=BOT, messages=messages, max_tokens=2)  # loads the model

    before = Scrape(site, key)
    started = time.perf_counter()
    texts, usage = 0, None
    for chunk in client.chat.completions.create(
        model=BOT, messages=messages, max_tokens=12, temperature=0, stream=True, stream_options={"include_usage": True}
    ):
        texts += bool(chunk.choices and chunk.choices[0].delta.content)
        usage = chunk.usage or usage
    elapsed = time.perf_counter() - started
    streamed = Scrape(site, key)

    assert texts > 1 and usage is not None
    route = dict(method="POST", route="/v1/chat/completions", status="200")
    assert moved(before, streamed, "caretune_requests_total", **route) == 1
    assert moved(before, streamed, "caretune_prompt_tokens_total", model=BOT) == usage.prompt_tokens
    assert moved(before, streamed, "caretune_generation_tokens_total", model=BOT) == usage.completion_tokens
    assert moved(before, streamed, "caretune_time_to_first_token_seconds_count", model=BOT) == 1
    assert 0 < moved(before, streamed, "caretune_time_to_first_token_seconds_sum", model=BOT) < elapsed
    # One gap between each two texts the client got: a chunk is sent as the engine hands its text over.
    assert moved(before, streamed, "caretune_inter_token_latency_seconds_count", model=BOT) == texts - 1

    chat = client.chat.completions.create(model=BOT, messages=messages, max_tokens=6, temperature=0)
    completion = client.completions.create(model=BOT, prompt=["hello there", "my parcel"], max_tokens=5)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="no-such-model", messages=messages)
    after = Scrape(site, key)

    assert moved(streamed, after, "caretune_requests_total", **route) == 1
    assert moved(streamed, after, "caretune_requests_total", **{**route, "status": "404"}) == 1
    assert moved(streamed, after, "caretune_requests_total", method="POST", route="/v1/completions", status="200") == 1
    assert moved(streamed, after, "caretune_prompt_tokens_total", model=BOT) == (
        chat.usage.prompt_tokens + completion.usage.prompt_tokens
    )
    assert moved(streamed, after, "caretune_generation_tokens_total", model=BOT) == (
        chat.usage.completion_tokens + completion.usage.completion_tokens
    )
    assert moved(streamed, after, "caretune_time_to_first_token_seconds_count", model=BOT) == 2  # not streamed, too
    assert moved(streamed, after, "caretune_inter_token_latency_seconds_count", model=BOT) > 0
    assert after("caretune_requests_in_flight", model=BOT) == 0
    assert not after.has("caretune_requests_in_flight", model="no-such-model")  # refused before taking a slot


def test_live_figures_read_the_engine_and_the_jobs(metrics_server: Served, tiny_llama_run: Path,
                                                   training_jsonl: Path) -> None:
    from caretune.runs.info import RunInfo
    from caretune.storage.db import make_engine, session_factory, sqlite_url
    from caretune.storage.jobs import Job, add_event, transition

    site, key, data_dir = metrics_server
    admin = httpx.Client(base_url=f"{site}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60)
    admin.post("/completions", json={"model": BOT, "prompt": "hi", "max_tokens": 1}).raise_for_status()
    upload = admin.post("/files", files={"file": ("t.jsonl", training_jsonl.read_bytes())}, data={"purpose": "fine-tune"})
    jobs = [admin.post("/fine_tuning/jobs", json={"model": BOT, "training_file": upload.json()["id"]}).json()
            for _ in range(3)]
    scrape = Scrape(site, key)
    assert scrape("caretune_model_loaded", model=BOT) == 1
    assert scrape("caretune_kv_cells", model=BOT) == 8192  # the engine's context
    assert scrape("caretune_kv_cells_used", model=BOT) == 0  # nothing running
    assert scrape("caretune_requests_waiting", model=BOT) == 0
    assert scrape("caretune_kv_cache_bytes", model=BOT) > 0  # llama.cpp's own figure, read from its log
    before_hits = scrape("caretune_prefix_cache_hits_total", model=BOT)
    prompt = "Customer: my parcel is late and I would like to know where it is now\nAgent:"
    for _ in range(2):  # the second time the prompt is in the engine's prompt cache
        admin.post("/completions", json={"model": BOT, "prompt": prompt, "max_tokens": 1}).raise_for_status()
    scrape = Scrape(site, key)
    assert scrape("caretune_prefix_cache_hits_total", model=BOT) > before_hits
    assert scrape("caretune_prefix_cache_queries_total", model=BOT) >= scrape("caretune_prefix_cache_hits_total",
                                                                              model=BOT)
    assert scrape("caretune_prefix_cache_bytes", model=BOT) > 0
    assert scrape("caretune_fine_tuning_jobs", status="validating_files") == 3  # the worker is off

    database = make_engine(sqlite_url(data_dir / "caretune.db"))
    with session_factory(database)() as session:
        job = session.get(Job, jobs[0]["id"])
        transition(session, job.id, ("validating_files",), status="running")
        job.model_dir.mkdir(parents=True)  # as the job's run writes it before its first step
        RunInfo.load(tiny_llama_run).model_copy(update={"total_steps": 12}).save(job.model_dir)
        for step in (1, 2, 3):
            add_event(session, job.id, f"Step {step}", data={"step": step, "train_loss": 1.0 / step})
    database.dispose()
    scrape = Scrape(site, key)
    assert scrape("caretune_fine_tuning_jobs", status="running") == 1
    assert scrape("caretune_fine_tuning_jobs", status="validating_files") == 2
    assert scrape("caretune_fine_tuning_job_step", job=job.id) == 3
    assert scrape("caretune_fine_tuning_job_planned_steps", job=job.id) == 12

    summary = admin.get("/metrics/summary").json()
    assert summary["models_loaded"] == [BOT]
    assert summary["jobs"]["running"] == 1
    assert summary["running_jobs"] == [{"id": job.id, "step": 3, "planned_steps": 12}]


@pytest.mark.parametrize("path", ["/metrics", "/v1/metrics/summary"])
def test_only_admins_read_the_metrics(metrics_server: Served, path: str) -> None:
    from caretune.server.settings import ServerSettings

    site, _, data_dir = metrics_server
    settings = ServerSettings(data_dir=data_dir)
    for role in ("app", "agent"):
        refused = httpx.get(f"{site}{path}", headers={"Authorization": f"Bearer {new_key(settings, role)}"})
        assert refused.status_code == 403
        error = refused.json()["error"]
        assert error["code"] == "missing_permission" and "'metrics'" in error["message"]
    assert httpx.get(f"{site}{path}").status_code == 401
