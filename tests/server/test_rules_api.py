"""The request rules of ``caretune.engines.params`` through the API (both endpoints), as 400s naming the
parameter; and the run's system prompt, applied to a chat request that brings none."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.server.live import TINY_MODEL, free_port, running_server

HELLO = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", None),
        ({"n": 3, "best_of": 2}, "best_of", None),
        ({"n": 1, "best_of": 2, "stream": True}, "best_of", None),
        ({"max_tokens": 100000}, "prompt", "context_length_exceeded"),
        ({"prompt": ""}, "prompt", "empty_prompt"),
    ],
)
def test_completions_rules(client, kwargs: dict, param: str, code: str | None) -> None:
    request = {"model": TINY_MODEL, "prompt": "Customer: hi\nAgent:", "max_tokens": 4, **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(**request)
    assert info.value.body["param"] == param
    if code:
        assert info.value.body["code"] == code


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", None),
        ({"max_completion_tokens": 100000}, "messages", "context_length_exceeded"),
        ({"n": 200}, "n", None),
    ],
)
def test_chat_rules(client, kwargs: dict, param: str, code: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=TINY_MODEL, messages=HELLO, **kwargs)
    assert info.value.body["param"] == param
    if code:
        assert info.value.body["code"] == code


@pytest.fixture(scope="module")
def run_server(tiny_llama_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server whose model is a run with a trained system prompt."""
    from caretune.server.settings import ServerSettings

    settings = ServerSettings(
        port=free_port(), data_dir=tmp_path_factory.mktemp("run_server"), models=[f"acme={tiny_llama_run}"],
        engine="transformers", no_auth=True, run_worker=False,
    )
    with running_server(settings) as url:
        yield openai.OpenAI(base_url=url, api_key="-", max_retries=0, timeout=120)


def test_a_chat_without_a_system_message_gets_the_runs_own(run_server, hf_llama_run_engine) -> None:
    """The web app and every API client talk to a fine-tune with the instructions it was trained with; a
    request's own system message replaces them."""
    from caretune.engines import SamplingParams

    def expected(messages: list[dict]) -> str:
        params = SamplingParams(temperature=0, max_tokens=8, stop=hf_llama_run_engine.default_stop)
        return hf_llama_run_engine.complete(hf_llama_run_engine.render_chat(messages), params).choices[0].text

    def served(messages: list[dict]) -> str:
        reply = run_server.chat.completions.create(model="acme", messages=messages, temperature=0, max_tokens=8)
        return reply.choices[0].message.content

    question = [{"role": "user", "content": "my order has not arrived yet"}]
    trained = [{"role": "system", "content": hf_llama_run_engine.system_prompt}, *question]
    own = [{"role": "system", "content": "Be brief."}, *question]
    assert served(question) == expected(trained) != expected(question)
    assert served(own) == expected(own)
