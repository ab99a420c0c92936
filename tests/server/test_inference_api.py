"""Completions, chat completions and models through the official ``openai`` SDK against a live server."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.server.live import TINY_MODEL


def test_models_lists_the_base_model(client) -> None:
    ids = [m.id for m in client.models.list().data]
    assert TINY_MODEL in ids
    assert client.models.retrieve(TINY_MODEL).id == TINY_MODEL


def test_completion_with_sampling_parameters(client) -> None:
    result = client.completions.create(
        model=TINY_MODEL,
        prompt="Customer: my order has not arrived yet\nAgent:",
        stop=["\nCustomer"],
        temperature=0.7,
        top_p=0.9,
        best_of=3,
        n=2,
        max_tokens=12,
        seed=3,
    )
    assert result.object == "text_completion"
    assert [c.index for c in result.choices] == [0, 1]
    for choice in result.choices:
        assert choice.finish_reason in ("stop", "length")
        assert "\nCustomer" not in choice.text
    assert result.usage.prompt_tokens > 0
    assert 0 < result.usage.completion_tokens
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_greedy_completion_is_reproducible_and_respects_max_tokens(client) -> None:
    kwargs = dict(model=TINY_MODEL, prompt="Customer: hello\nAgent:", temperature=0, max_tokens=5)
    first, second = client.completions.create(**kwargs), client.completions.create(**kwargs)
    assert first.choices[0].text == second.choices[0].text
    assert first.usage.completion_tokens <= 5


def test_streamed_completion_matches_usage(client) -> None:
    stream = client.completions.create(
        model=TINY_MODEL, prompt="Customer: hi\nAgent:", max_tokens=8, temperature=0, stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


def test_streamed_chat_completion(client) -> None:
    stream = client.chat.completions.create(
        model=TINY_MODEL,
        messages=[
            {"role": "system", "content": "You are a customer support agent for Acme."},
            {"role": "user", "content": "how do I reset my password"},
        ],
        max_tokens=10,
        temperature=0.8,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert finishes in (["stop"], ["length"])
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens >= 1
    assert isinstance(text, str)


def test_chat_completion_whole(client) -> None:
    result = client.chat.completions.create(
        model=TINY_MODEL, messages=[{"role": "user", "content": "hello"}], max_completion_tokens=6, n=2
    )
    assert result.object == "chat.completion"
    assert len(result.choices) == 2
    assert all(c.message.role == "assistant" for c in result.choices)
    assert result.usage.completion_tokens <= 12


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"n": 3, "best_of": 2}, "best_of"),
        ({"best_of": 2, "stream": True}, "best_of"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"prompt": "hello " * 600}, "prompt"),
        ({"max_tokens": 100000}, "prompt"),
        ({"logit_bias": {"not-a-token": 1}}, "logit_bias"),
        ({"prompt": [2, 10**9]}, "prompt"),  # a token id outside the vocabulary
        ({"prompt": [[]]}, "prompt"),  # an empty token array
        ({"prompt": [2, "mixed"]}, "prompt"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(client, kwargs: dict, param: str) -> None:
    request = {"model": TINY_MODEL, "prompt": "Customer: hi\nAgent:", "max_tokens": 4, **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(**request)
    assert info.value.status_code == 400
    assert info.value.body["param"] == param
    assert info.value.body["message"]


def test_token_array_prompts_complete_like_their_text(client, tiny_gemma_dir) -> None:
    """OpenAI's prompt may be token ids, or a list of token arrays; ids are taken exactly as given."""
    from transformers import AutoTokenizer

    text = "Customer: my order has not arrived yet\nAgent:"
    ids = AutoTokenizer.from_pretrained(tiny_gemma_dir)(text).input_ids
    kwargs = dict(model=TINY_MODEL, temperature=0, max_tokens=6)
    by_text = client.completions.create(prompt=text, **kwargs)
    by_ids = client.completions.create(prompt=ids, **kwargs)
    assert by_ids.choices[0].text == by_text.choices[0].text
    assert by_ids.usage.prompt_tokens == len(ids) == by_text.usage.prompt_tokens
    both = client.completions.create(prompt=[ids, ids[:4]], **kwargs)
    assert [c.index for c in both.choices] == [0, 1]
    assert both.choices[0].text == by_text.choices[0].text
    assert both.usage.prompt_tokens == len(ids) + 4
    streamed = client.completions.create(prompt=ids, stream=True, **kwargs)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == by_text.choices[0].text


def test_chat_prompt_longer_than_context_is_400(client) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=TINY_MODEL, messages=[{"role": "user", "content": "hello " * 600}])
    assert info.value.body["param"] == "messages"
    assert info.value.body["code"] == "context_length_exceeded"


def test_unknown_model_is_404(client) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.completions.create(model="no-such-model", prompt="hi")
    assert info.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_base_model_cannot_be_deleted(client) -> None:
    with pytest.raises(openai.PermissionDeniedError):
        client.models.delete(TINY_MODEL)


def test_sixteen_concurrent_clients_all_get_complete_answers(base_url: str, api_key: str) -> None:
    def ask(i: int) -> tuple[str, str | None]:
        client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)
        if i % 2:
            stream = client.chat.completions.create(
                model=TINY_MODEL, messages=[{"role": "user", "content": f"question {i}"}], max_tokens=8,
                stream=True,
            )
            chunks = [c for c in stream if c.choices]
            return "".join(c.choices[0].delta.content or "" for c in chunks), chunks[-1].choices[0].finish_reason
        result = client.completions.create(model=TINY_MODEL, prompt=f"Customer: question {i}\nAgent:", max_tokens=8)
        return result.choices[0].text, result.choices[0].finish_reason

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(16)))
    assert all(finish in ("stop", "length") for _, finish in answers)


def test_thirty_two_concurrent_streams_end_well_and_memory_stays_flat(base_url: str, api_key: str) -> None:
    """Three waves of 32 streams at once: each ends with its finish and ``[DONE]``, none with an error event,
    and the process holds no more memory after the third wave than after the first."""
    import psutil

    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"model": TINY_MODEL, "max_tokens": 4, "stream": True}

    def stream(i: int) -> list[str]:
        messages = [{"role": "user", "content": f"question {i}"}]
        with httpx.stream("POST", f"{base_url}/chat/completions", json={**body, "messages": messages},
                          headers=headers, timeout=120) as response:
            assert response.status_code == 200, response.read()
            return [line for line in response.iter_lines() if line]

    def wave() -> int:
        with ThreadPoolExecutor(32) as pool:
            events = list(pool.map(stream, range(32)))
        for lines in events:
            assert lines[-1] == "data: [DONE]" and not any('"error"' in line for line in lines), lines
            assert any('"finish_reason":"' in line for line in lines)
        return psutil.Process().memory_info().rss

    first = wave()
    wave()
    assert wave() - first < 32 << 20
