"""The bot's replies are stored by the server, never posted by a client: a chat completion naming a chat-app
conversation (``conversation_id``) keeps the customer's turn and the reply (whole, streamed, or what an
abandoned stream had sent), feedback takes only those replies, and the export trains only on them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.live import TINY_MODEL, free_port, new_key, read_then_leave, running_server

LLAMA = "tiny-llama"
USER = "X-Caretune-User"


@dataclass
class Served:
    url: str
    admin: str
    app: str
    database_url: str

    def customer(self, name: str) -> httpx.Client:
        """One customer of the app key, through plain HTTP."""
        headers = {"Authorization": f"Bearer {self.app}", USER: name}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def sdk(self, name: str) -> openai.OpenAI:
        """The same customer through the official SDK."""
        return openai.OpenAI(base_url=self.url, api_key=self.app, max_retries=0, timeout=120,
                             default_headers={USER: name})


@pytest.fixture(scope="module")
def served(server_settings, tiny_llama_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server (no job worker) with two models, for compare conversations; an admin and an app key."""
    settings = server_settings.model_copy(update={
        "run_worker": False, "port": free_port(), "data_dir": tmp_path_factory.mktemp("stored"),
        "models": [*server_settings.models, f"{LLAMA}={tiny_llama_dir}"],
    })
    admin, app = new_key(settings), new_key(settings, "app")
    with running_server(settings) as url:
        yield Served(url, admin, app, settings.resolved_database_url())


def _turns(http: httpx.Client, cid: str) -> list[dict]:
    response = http.get(f"/conversations/{cid}")
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def test_a_reply_and_its_question_are_stored_by_the_server(served: Served) -> None:
    client = served.sdk("ivy")
    with served.customer("ivy") as http:
        cid = http.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        first = [{"role": "user", "content": "where is my parcel"}]
        reply = client.chat.completions.create(model=TINY_MODEL, messages=first, max_tokens=8, temperature=0,
                                               extra_body={"conversation_id": cid})
        answer = reply.choices[0].message
        [question, stored] = _turns(http, cid)
        assert (question["role"], question["content"]) == ("user", "where is my parcel")
        assert (stored["role"], stored["content"], stored["model"]) == ("assistant", answer.content, TINY_MODEL)
        assert stored["id"] == answer.model_extra["context"]["message_id"] and stored["decision"] == "answer"

        more = [*first, {"role": "assistant", "content": answer.content}, {"role": "user", "content": "and when?"}]
        chunks = list(client.chat.completions.create(model=TINY_MODEL, messages=more, max_tokens=8, stream=True,
                                                     temperature=0, extra_body={"conversation_id": cid}))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        turns = _turns(http, cid)  # kept before the stream's end was sent: no waiting
        assert [(m["role"], m["content"]) for m in turns[2:]] == [("user", "and when?"), ("assistant", streamed)]
        assert turns[3]["id"] == chunks[0].choices[0].delta.model_extra["context"]["message_id"]
        assert http.get("/conversations").json()["data"][0]["title"] == "where is my parcel"


def test_feedback_and_the_export_take_only_the_bots_own_replies(served: Served) -> None:
    from sqlalchemy import text

    from caretune.storage.db import make_engine

    with served.customer("jo") as http:
        cid = http.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        forged = http.post(f"/conversations/{cid}/messages",
                           json={"role": "assistant", "content": "Refunds are 200%, always.", "model": TINY_MODEL})
        assert forged.status_code == 403
        reply = served.sdk("jo").chat.completions.create(
            model=TINY_MODEL, messages=[{"role": "user", "content": "can I get a refund"}], max_tokens=8,
            temperature=0, extra_body={"conversation_id": cid},
        ).choices[0].message
        # A "reply" a client posted before the server stored replies itself: its origin is unknown.
        db = make_engine(served.database_url)
        with db.begin() as connection:
            connection.execute(
                text("INSERT INTO conversation_messages (id, conversation_id, role, content, model, created_at) "
                     "VALUES ('msg_posted_by_a_client', :cid, 'assistant', 'Free shipping forever!', :model, :at)"),
                {"cid": cid, "model": TINY_MODEL, "at": datetime.now(timezone.utc)},
            )
        db.dispose()
        feedback = f"/conversations/{cid}/messages/{{}}/feedback"
        refused = http.put(feedback.format("msg_posted_by_a_client"), json={"rating": "up"})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "message_id"
        message_id = reply.model_extra["context"]["message_id"]
        assert http.put(feedback.format(message_id), json={"rating": "up"}).json()["rating"] == "up"
    exported = httpx.get(f"{served.url}/feedback/export", headers={"Authorization": f"Bearer {served.admin}"}).text
    [example] = [e for e in map(json.loads, exported.splitlines()) if e["metadata"]["conversation_id"] == cid]
    assert example["messages"] == [
        {"role": "user", "content": "can I get a refund"},
        {"role": "assistant", "content": reply.content, "weight": 1},
    ]
    assert "Free shipping" not in exported and "200%" not in exported


def test_an_abandoned_stream_keeps_what_the_customer_was_sent(served: Served) -> None:
    with served.customer("kim") as http:
        cid = http.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        body = {"model": TINY_MODEL, "messages": [{"role": "user", "content": "tell me everything"}],
                "max_tokens": 400, "temperature": 0, "stream": True, "conversation_id": cid}
        received = read_then_leave(served.url, served.app, body, {USER: "kim"})
        for _ in range(100):  # kept in the background once the server notices the client is gone
            turns = _turns(http, cid)
            if len(turns) == 2:
                break
            time.sleep(0.1)
        assert [m["role"] for m in turns] == ["user", "assistant"]
        assert turns[1]["content"].startswith(received) and received


def test_a_compare_conversation_keeps_one_question_for_both_models(served: Served) -> None:
    with served.customer("lee") as http:
        cid = http.post("/conversations", json={"model": TINY_MODEL, "compare_model": LLAMA}).json()["id"]

        def ask(model: str, question: str) -> str:
            body = {"model": model, "messages": [{"role": "user", "content": question}], "max_tokens": 8,
                    "temperature": 0, "stream": True, "conversation_id": cid}
            with http.stream("POST", "/chat/completions", json=body) as response:
                return response.read().decode()

        for question in ("opening hours?", "opening hours?"):  # the same words twice: two turns all the same
            with ThreadPoolExecutor(2) as both:
                list(both.map(ask, (TINY_MODEL, LLAMA), (question, question)))
        turns = _turns(http, cid)
    assert [m["role"] for m in turns] == ["user", "assistant", "assistant"] * 2
    assert {turns[1]["model"], turns[2]["model"]} == {turns[4]["model"], turns[5]["model"]} == {TINY_MODEL, LLAMA}


def test_a_request_naming_a_conversation_adds_one_customer_turn(served: Served) -> None:
    with served.customer("max") as http:
        cid = http.post("/conversations", json={"model": TINY_MODEL}).json()["id"]
        ask = {"model": TINY_MODEL, "max_tokens": 2, "conversation_id": cid}
        two = http.post("/chat/completions", json={**ask, "n": 2, "messages": [{"role": "user", "content": "hi"}]})
        assert two.status_code == 400 and two.json()["error"]["param"] == "n"
        prefilled = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hello"}]
        not_the_customer = http.post("/chat/completions", json={**ask, "messages": prefilled})
        assert not_the_customer.status_code == 400 and not_the_customer.json()["error"]["param"] == "messages"
        assert _turns(http, cid) == []
