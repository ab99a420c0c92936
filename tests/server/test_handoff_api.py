"""The bot's own hand-off through the API: the customer gets the hand-over message, a plain OpenAI client a
normal assistant message, the extension field says why, and the chat app's conversation joins the agent
queue with the reason and the draft the bot did not send."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import openai
import pytest

from caretune.runs.info import DEFAULT_HANDOFF_MESSAGE, HandoffSettings, RunInfo
from tests.knowledge.helpers import POLICIES
from tests.server.live import free_port, running_server

# Confident when the best passage's cosine is above 0.5: a stand-in for what `caretune eval` fits.
BY_SIMILARITY = HandoffSettings(features=["similarity"], weights=[20.0], bias=-10.0, threshold=0.5)
ON_TOPIC = [{"role": "user", "content": "do gift cards expire?"}]
OFF_TOPIC = [{"role": "user", "content": "Which pizza toppings go best with a horror movie night?"}]
CUSTOM = "A colleague from Acme will take it from here."


@pytest.fixture(scope="module")
def handoff_server(tiny_llama_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """`acme` (its run calibrated as above) answers from a knowledge base of three policies; `acme-custom` is
    the same run with the server's own threshold and hand-over message."""
    from caretune.knowledge import KnowledgeBase
    from caretune.server.settings import ServerSettings

    root = tmp_path_factory.mktemp("handoff")
    run = shutil.copytree(tiny_llama_run, root / "acme-run")
    RunInfo.load(run).model_copy(update={"handoff": BY_SIMILARITY}).save(run)
    (root / "policies.md").write_text(POLICIES, encoding="utf-8")
    KnowledgeBase(root / "kb", create=True).add([root / "policies.md"])
    settings = ServerSettings(
        port=free_port(), data_dir=root / "server", models=[f"acme={run}", f"acme-custom={run}"],
        knowledge=[f"acme={root / 'kb'}", f"acme-custom={root / 'kb'}"],
        handoff_threshold=["acme-custom=0.0"], handoff_message=[f"acme-custom={CUSTOM}"],
        engine="transformers", no_auth=True, run_worker=False,
    )
    with running_server(settings) as url:
        yield url


def _context(reply) -> dict:
    return reply.choices[0].message.model_extra["context"]


def test_an_answerable_question_is_answered_with_its_confidence(handoff_server: str) -> None:
    client = openai.OpenAI(base_url=handoff_server, api_key="-", max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="acme", messages=ON_TOPIC, max_tokens=4, temperature=0)
    context = _context(reply)
    assert context["decision"] == "answer" and context["confidence"] > 0.5 and context["reason"] is None
    assert context["citations"][0]["title"] == "Gift cards"
    assert reply.choices[0].message.content != DEFAULT_HANDOFF_MESSAGE


def test_an_off_topic_question_gets_the_hand_over_message(handoff_server: str) -> None:
    client = openai.OpenAI(base_url=handoff_server, api_key="-", max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="acme", messages=OFF_TOPIC, max_tokens=4, temperature=0)
    assert reply.choices[0].message.role == "assistant" and reply.choices[0].finish_reason == "stop"
    assert reply.choices[0].message.content == DEFAULT_HANDOFF_MESSAGE
    context = _context(reply)
    assert (context["decision"], context["reason"]) == ("handoff", "low_confidence") and context["confidence"] < 0.5
    stream = client.chat.completions.create(model="acme", messages=OFF_TOPIC, max_tokens=4, stream=True)
    chunks = [c for c in stream if c.choices]
    assert chunks[0].choices[0].delta.model_extra["context"]["decision"] == "handoff"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == DEFAULT_HANDOFF_MESSAGE
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_asking_for_a_person_hands_off_whatever_the_score(handoff_server: str) -> None:
    client = openai.OpenAI(base_url=handoff_server, api_key="-", max_retries=0, timeout=120)
    messages = [{"role": "user", "content": "do gift cards expire? actually, can I speak to a real person"}]
    for model in ("acme", "acme-custom"):  # acme-custom's threshold 0 would answer anything else
        reply = client.chat.completions.create(model=model, messages=messages, max_tokens=4)
        assert _context(reply)["reason"] == "asked_for_person"
    assert reply.choices[0].message.content == CUSTOM


def test_the_server_threshold_overrides_the_run(handoff_server: str) -> None:
    client = openai.OpenAI(base_url=handoff_server, api_key="-", max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="acme-custom", messages=OFF_TOPIC, max_tokens=4)
    assert _context(reply)["decision"] == "answer"


def test_a_handed_off_conversation_waits_for_an_agent_with_reason_and_draft(handoff_server: str) -> None:
    with httpx.Client(base_url=handoff_server, timeout=120) as http:
        conversation = http.post("/conversations", json={"model": "acme"}).json()["id"]
        body = {"model": "acme", "messages": OFF_TOPIC, "max_tokens": 4, "conversation_id": conversation}
        assert http.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"] == (
            DEFAULT_HANDOFF_MESSAGE
        )
        queued = http.get("/conversations", params={"needs_agent": True}).json()["data"]
        row = next(c for c in queued if c["id"] == conversation)
        assert row["handoff"] == "waiting" and row["handoff_reason"] == "low_confidence"
        kept = http.get(f"/conversations/{conversation}").json()["messages"]  # the server keeps the exchange
        assert [(m["role"], m["content"], m["decision"]) for m in kept] == [
            ("user", OFF_TOPIC[0]["content"], None), ("assistant", DEFAULT_HANDOFF_MESSAGE, "handoff"),
        ]
        assert kept[1]["sources"] is None and kept[1]["model"] == "acme"
        assert _drafted(http, conversation) != DEFAULT_HANDOFF_MESSAGE  # drafted after the customer got the message
        answered = {"model": "acme", "messages": ON_TOPIC, "max_tokens": 4, "conversation_id": conversation}
        http.post(f"/conversations/{conversation}/handoff", json={})  # the customer's own request: no bot reason
        assert http.post("/chat/completions", json=answered).status_code == 200
        assert http.get(f"/conversations/{conversation}").json()["handoff_reason"] is None


def _drafted(http: httpx.Client, conversation: str) -> str:
    """The conversation's draft, once the background generation has written it."""
    for _ in range(600):
        draft = http.get(f"/conversations/{conversation}").json()["handoff_draft"]
        if draft:
            return draft
        time.sleep(0.1)
    raise AssertionError("no draft within a minute")


def test_a_plain_client_s_hand_off_generates_nothing(handoff_server: str) -> None:
    client = openai.OpenAI(base_url=handoff_server, api_key="-", max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="acme", messages=OFF_TOPIC, max_tokens=4)
    assert reply.choices[0].message.content == DEFAULT_HANDOFF_MESSAGE
    assert reply.usage.completion_tokens == 0  # no conversation to queue: no draft is written for anyone


@pytest.mark.parametrize("option", ["acme", "acme=", "acme=1.5", "acme=high"])
def test_a_bad_threshold_option_is_refused(option: str) -> None:
    from pydantic import ValidationError

    from caretune.server.settings import ServerSettings

    with pytest.raises(ValidationError, match="handoff_threshold"):
        ServerSettings(handoff_threshold=[option])
