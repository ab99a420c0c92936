"""Knowledge through the API: bases and documents, a model that answers from one, and its sources."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.knowledge.helpers import POLICIES
from tests.server.live import free_port, running_server

GIFT = [{"role": "user", "content": "do gift cards expire?"}]


@pytest.fixture(scope="module")
def kb_server(tiny_llama_run: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server whose model `acme` answers from the server's knowledge base `acme-kb` (filled below)."""
    from caretune.server.settings import ServerSettings

    settings = ServerSettings(
        port=free_port(), data_dir=tmp_path_factory.mktemp("kb_server"), models=[f"acme={tiny_llama_run}"],
        knowledge=["acme=acme-kb"], engine="transformers", no_auth=True, run_worker=False,
    )
    with running_server(settings) as url:
        yield url


def test_bases_and_documents(kb_server: str) -> None:
    with httpx.Client(base_url=kb_server, timeout=120) as http:
        assert http.post("/knowledge", json={"name": "acme-kb"}).json()["id"] == "acme-kb"
        assert http.post("/knowledge", json={"name": "acme-kb"}).status_code == 400
        assert http.post("/knowledge", json={"name": "../escape"}).status_code == 400
        added = http.post("/knowledge/acme-kb/documents", files={"file": ("policies.md", POLICIES.encode())}).json()
        assert added["added"] == ["policies.md"] and added["chunks"] == 3
        again = http.post("/knowledge/acme-kb/documents", files={"file": ("policies.md", POLICIES.encode())})
        assert again.json()["unchanged"] == ["policies.md"]
        bad = http.post("/knowledge/acme-kb/documents", files={"file": ("notes.pdf", b"%PDF")})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "file"
        assert http.get("/knowledge").json()["data"] == [
            {"id": "acme-kb", "object": "knowledge_base", "documents": 1, "chunks": 3}
        ]
        found = http.post("/knowledge/acme-kb/search", json={"query": "gift card expiry", "k": 1}).json()["data"]
        assert found[0]["title"] == "Gift cards"
        assert http.get("/knowledge/nope").status_code == 404


def test_a_model_with_knowledge_answers_with_its_sources(kb_server: str) -> None:
    client = openai.OpenAI(base_url=kb_server, api_key="-", max_retries=0, timeout=120)
    reply = client.chat.completions.create(model="acme", messages=GIFT, max_tokens=4, temperature=0)
    citations = reply.choices[0].message.model_extra["context"]["citations"]
    assert citations[0]["title"] == "Gift cards" and citations[0]["source"] == "policies.md"
    stream = client.chat.completions.create(model="acme", messages=GIFT, max_tokens=4, temperature=0, stream=True)
    chunks = list(stream)
    first = chunks[0].choices[0].delta.model_extra["context"]["citations"]
    assert [c["id"] for c in first] == [c["id"] for c in citations]
    assert all("context" not in (c.choices[0].delta.model_extra or {}) for c in chunks[1:] if c.choices)
    with httpx.Client(base_url=kb_server, timeout=60) as http:
        deadline = time.monotonic() + 30  # uses are counted in a worker thread, after the answer is sent
        uses = http.get("/knowledge/uses").json()["data"]
        while not uses or uses[0]["uses"] < 2:
            assert time.monotonic() < deadline, uses
            time.sleep(0.1)
            uses = http.get("/knowledge/uses").json()["data"]
    assert uses[0]["title"] == "Gift cards" and uses[0]["uses"] >= 2


def test_sources_are_kept_with_the_turn_and_a_plain_model_has_none(kb_server: str, client) -> None:
    from tests.server.live import TINY_MODEL

    plain = client.chat.completions.with_raw_response.create(model=TINY_MODEL, messages=GIFT, max_tokens=2)
    assert "context" not in json.loads(plain.text)["choices"][0]["message"]  # exactly OpenAI's message
    with httpx.Client(base_url=kb_server, timeout=120) as http:
        conversation = http.post("/conversations", json={"model": "acme"}).json()["id"]
        sources = [{"id": "acme-kb:1", "title": "Gift cards", "source": "policies.md"}]
        saved = http.post(f"/conversations/{conversation}/messages",
                          json={"role": "assistant", "content": "They never expire.", "model": "acme", "sources": sources})
        assert saved.json()["sources"] == sources
        assert http.get(f"/conversations/{conversation}").json()["messages"][0]["sources"] == sources
