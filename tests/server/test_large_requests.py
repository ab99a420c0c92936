"""One large request does not stall everyone: bodies, messages, message lengths, prompts, stop sequences and
candidates are bounded before anything is parsed or tokenised, and what work a large request still costs runs
off the event loop, so a concurrent small request is answered at once."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.server.live import TINY_MODEL, free_port, running_server

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def small_server(server_settings, tmp_path_factory: pytest.TempPathFactory):
    """A server with a 1 MB body limit and no key: (base URL, settings)."""
    settings = server_settings.model_copy(update={
        "port": free_port(), "data_dir": tmp_path_factory.mktemp("large"), "no_auth": True, "run_worker": False,
        "max_body_mb": 1,
    })
    with running_server(settings) as url:
        yield url


def _error(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_a_body_over_the_limit_is_413_before_it_is_read(small_server: str) -> None:
    body = {"model": TINY_MODEL, "messages": [{"role": "user", "content": "x" * (1 << 20)}]}
    error = _error(httpx.post(f"{small_server}/chat/completions", json=body, timeout=60), 413)
    assert "--max-body-mb" in error["message"] and error["code"] == "request_too_large"
    chunks = (b" " * 65536 for _ in range(64))  # 4 MB of JSON whitespace, with no Content-Length
    error = _error(httpx.post(f"{small_server}/completions", content=chunks, timeout=60,
                              headers={"Content-Type": "application/json"}), 413)
    assert error["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "hi"}] * 2049}, "messages"),
        ({"messages": [{"role": "user", "content": "x" * (4 * 131_072 + 1)}]}, "messages.0.content"),
        ({"messages": HELLO, "stop": ["x" * 257]}, "stop"),
        ({"messages": HELLO, "n": 17}, "n"),
        ({"prompt": ["hi"] * 17}, "prompt"),
        ({"prompt": [[2, 3]] * 17}, "prompt"),
        ({"prompt": "hi", "best_of": 17}, "best_of"),
        ({"prompt": "hi", "stop": "x" * 257}, "stop"),
    ],
    ids=["messages", "message-length", "chat-stop-length", "n", "prompts", "token-prompts", "best_of",
         "stop-length"],
)
def test_counts_and_lengths_are_bounded_in_the_schema(base_url: str, api_key: str, body: dict, param: str) -> None:
    path = "/chat/completions" if "messages" in body else "/completions"
    response = httpx.post(f"{base_url}{path}", json={"model": TINY_MODEL, "max_tokens": 1, **body}, timeout=60,
                          headers={"Authorization": f"Bearer {api_key}"})
    assert _error(response)["param"] == param


def test_the_schema_states_the_bounds(base_url: str) -> None:
    spec = httpx.get(base_url.removesuffix("/v1") + "/openapi.json").json()["components"]["schemas"]
    chat = spec["ChatCompletionRequest"]["properties"]
    assert chat["messages"]["maxItems"] == 2048
    assert chat["n"]["maximum"] == 16


def _slowest_get(url: str, stop: threading.Event) -> float:
    """Ask for the model list again and again until ``stop``; the longest wait for an answer."""
    slowest = 0.0
    with httpx.Client(timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            http.get(f"{url}/models").raise_for_status()
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.01)
    return slowest


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "word " * 100_000}]},
        {"messages": [{"role": "user", "content": "hi there " * 40}] * 2000},
        {"prompt": ["hi"] * 15 + ["word " * 100_000]},
    ],
    ids=["long-message", "many-messages", "many-prompts"],
)
def test_a_large_request_does_not_stall_a_concurrent_one(small_server: str, body: dict) -> None:
    """Each body is about as large as this server takes: its work ends in an answer from the history that
    fits, or in a 400 when the last message or a prompt alone overflows the tiny model's window. Meanwhile the
    model list keeps answering at once."""
    stop = threading.Event()
    result: list[float] = []
    watcher = threading.Thread(target=lambda: result.append(_slowest_get(small_server, stop)))
    watcher.start()
    try:
        time.sleep(0.2)
        path = "/chat/completions" if "messages" in body else "/completions"
        started = time.perf_counter()
        response = httpx.post(f"{small_server}{path}", json={"model": TINY_MODEL, "max_tokens": 1, **body},
                              timeout=120)
        took = time.perf_counter() - started
    finally:
        stop.set()
        watcher.join()
    if response.status_code != 200:
        assert response.json()["error"]["code"] == "context_length_exceeded", response.text
    assert result[0] < max(0.3, took / 2), (result[0], took)  # before: stalled for nearly all of it
