"""The README's path with the real Gemma 3 270M: prepare the demo log, train, serve with both engines, chat.

Every stage runs for real (the CLI as a user types it, the library calls the server makes, the official
``openai`` SDK); only the sizes are small, so the whole file fits in a few minutes on a 2-core CPU. The run is
trained once per module and every later test reads it, as a user's later steps read ``runs/NAME``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from caretune.data.demo import demo_csv_path
from caretune.engines import Engine, SamplingParams, load_engine
from tests.server.live import free_port, new_key

pytestmark = pytest.mark.gemma

SERVED_NAME = "demo"
# llama.cpp runs the registry's Q4_K_M GGUF, transformers the f32 copy converted from it: the weights match,
# only the arithmetic differs (llama.cpp quantises activations to Q8 in its matmuls). After three steps the
# model is still unsure, so two good continuations can be a near-tie that this noise decides. Measured (twice,
# training is seeded): on the demo question the first 6 of 12 greedy tokens agree, then " didn" (llama.cpp)
# and " can" (transformers) part them, 0.05 and 0.07 nats apart as either engine scores them; on a second
# question 6 agree and the parting pair is 0.13 / 0.25 nats apart. A broken adapter or prompt parts the
# engines at the first token, between tokens the other engine does not rank near the top.
PARITY_TOKENS = 12
MIN_AGREEING_TOKENS = 4
TOP_K = 5
TIE_MARGIN = 0.5  # nats between the two parting tokens, as either engine scores them


def caretune(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI as a user does; the output is kept so a failure shows why."""
    return subprocess.run(
        [sys.executable, "-m", "caretune", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo log through ``caretune prepare``, sampled down so that training stays a smoke run."""
    out = tmp_path_factory.mktemp("e2e") / "prepared"
    done = caretune("prepare", str(demo_csv_path()), "--out", str(out), "--max-examples", "24", "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def gemma_run(prepared: Path) -> Path:
    """Three LoRA steps on the real Gemma 3 270M through ``caretune train``: the run every later test serves."""
    run = prepared.parent / "runs" / SERVED_NAME
    done = caretune(
        "train", "--data", str(prepared), "--out", str(run), "--base", "gemma-3-270m",
        "--max-steps", "3", "--batch-size", "2", "--max-seq-len", "256",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return run


@pytest.fixture(scope="module")
def demo_prompt(prepared: Path, llamacpp_engine: Engine) -> str:
    """The first held-out demo conversation up to its first customer turn, rendered as training saw it."""
    first = json.loads((prepared / "test.jsonl").read_text(encoding="utf-8").splitlines()[0])["messages"]
    upto = next(i for i, m in enumerate(first) if m["role"] == "user") + 1
    return llamacpp_engine.render_chat(first[:upto])


@pytest.fixture(scope="module")
def llamacpp_engine(gemma_run: Path) -> Iterator[Engine]:
    """The default serving engine on the run: the registry's GGUF base plus the run's adapter, exported now."""
    engine = load_engine(gemma_run, engine="llamacpp")
    yield engine
    engine.close()


def greedy(engine: Engine, prompt: str, max_tokens: int = PARITY_TOKENS):
    """A greedy completion with each token's top-k logprobs, so two engines' tokens can be compared one by one."""
    return engine.complete(prompt, SamplingParams(temperature=0, max_tokens=max_tokens, logprobs=TOP_K))


def test_train_on_prepared_demo_writes_a_succeeded_run(gemma_run: Path) -> None:
    info = json.loads((gemma_run / "run.json").read_text(encoding="utf-8"))
    assert info["status"] == "succeeded" and info["base_model"] == "gemma-3-270m"
    assert info["hyperparameters"]["batch_size"] == 2 and info["hyperparameters"]["max_seq_len"] == 256
    assert (gemma_run / "adapter" / "adapter_model.safetensors").is_file()
    records = [json.loads(line) for line in (gemma_run / "metrics.jsonl").read_text().splitlines() if line]
    losses = [r["train_loss"] for r in records if "train_loss" in r]
    assert losses and all(math.isfinite(loss) and loss > 0 for loss in losses)
    assert max(r["step"] for r in records) == 3


def test_llamacpp_serves_the_run_with_its_exported_adapter(
    llamacpp_engine: Engine, gemma_run: Path, demo_prompt: str
) -> None:
    assert llamacpp_engine.lora_path == gemma_run / "export" / "adapter.gguf"
    assert llamacpp_engine.lora_path.stat().st_size > 0
    result = greedy(llamacpp_engine, demo_prompt)
    choice = result.choices[0]
    assert choice.text.strip() and choice.finish_reason in ("stop", "length")
    assert result.prompt_tokens == llamacpp_engine.count_tokens(demo_prompt)
    if choice.finish_reason == "length":
        assert result.completion_tokens == PARITY_TOKENS
    else:  # an end-of-turn token ends it: counted, though it adds no text
        assert 1 <= result.completion_tokens <= PARITY_TOKENS
    assert len(choice.logprobs.tokens) <= result.completion_tokens


def first_divergence(a: list[str], b: list[str]) -> int:
    """How many leading tokens two generations share."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def test_transformers_agrees_with_llamacpp_on_the_first_greedy_tokens(
    llamacpp_engine: Engine, gemma_run: Path, demo_prompt: str
) -> None:
    reference = load_engine(gemma_run, engine="transformers")
    ours, theirs = greedy(llamacpp_engine, demo_prompt).choices[0], greedy(reference, demo_prompt).choices[0]
    assert llamacpp_engine.count_tokens(demo_prompt) == reference.count_tokens(demo_prompt)
    a, b = ours.logprobs.tokens, theirs.logprobs.tokens
    agreeing = first_divergence(a, b)
    print(f"greedy agreement: {agreeing} of {PARITY_TOKENS} tokens; llama.cpp {a!r}; transformers {b!r}")
    assert agreeing >= MIN_AGREEING_TOKENS
    if agreeing == min(len(a), len(b)):
        return  # all agree, or an end-of-turn token (which adds no token text) ended one of them first
    tops = ours.logprobs.top_logprobs[agreeing], theirs.logprobs.top_logprobs[agreeing]
    print(f"at the parting: llama.cpp top-{TOP_K} {tops[0]}; transformers top-{TOP_K} {tops[1]}")
    for top in tops:  # both engines see the same two candidates, nearly tied
        assert {a[agreeing], b[agreeing]} <= top.keys()
        assert abs(top[a[agreeing]] - top[b[agreeing]]) < TIE_MARGIN


@pytest.fixture(scope="module")
def served(gemma_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``caretune serve`` in its own process on a loopback port, serving the run: (base URL, API key)."""
    from caretune.server.settings import ServerSettings

    settings = ServerSettings(port=free_port(), data_dir=tmp_path_factory.mktemp("serve"))
    key = new_key(settings)
    log = settings.data_dir / "server.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "caretune", "serve", "--port", str(settings.port),
             "--data-dir", str(settings.data_dir), "--model", f"{SERVED_NAME}={gemma_run}"],
            stdout=sink, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{settings.port}/v1"
        try:
            _wait_until_listening(url, key, server, log)
            yield url, key
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_until_listening(url: str, key: str, server: subprocess.Popen, log: Path) -> None:
    """Poll /models until the server answers; fail with its log if it exits or takes over a minute."""
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {key}"}, timeout=2).raise_for_status()
            return
        except httpx.HTTPError:
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"caretune serve did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)


@pytest.fixture()
def sdk(served: tuple[str, str]):
    """The official OpenAI SDK pointed at the live server (no retries: a failure must show)."""
    from openai import OpenAI

    url, key = served
    return OpenAI(base_url=url, api_key=key, max_retries=0, timeout=300)


CHAT = dict(
    model=SERVED_NAME,
    messages=[{"role": "user", "content": "How many days does standard delivery take?"}],
    temperature=0,
    max_tokens=16,
    stream=True,
)


def test_live_server_streams_a_chat_completion_through_the_sdk(sdk) -> None:
    chunks = list(sdk.chat.completions.create(**CHAT, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(chunks) > 2 and chunks[0].choices[0].delta.role == "assistant"
    assert text.strip() and finishes in (["stop"], ["length"])
    assert {c.model for c in chunks} == {SERVED_NAME} and len({c.id for c in chunks}) == 1
    usage = chunks[-1].usage
    assert usage is not None and 1 <= usage.completion_tokens <= CHAT["max_tokens"]


def test_live_chat_stream_is_server_sent_events_ending_in_done(sdk) -> None:
    from openai.types.chat import ChatCompletionChunk

    with sdk.chat.completions.with_streaming_response.create(**CHAT) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and events.count("[DONE]") == 1
    chunks = [ChatCompletionChunk.model_validate_json(e) for e in events[:-1]]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()
