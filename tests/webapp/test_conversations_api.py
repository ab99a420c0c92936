"""The chat app's API on a live server: hand-off rules, feedback export rules, errors, the OpenAPI document."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from caretune.data.validate import validate_file


@pytest.fixture()
def api(site: str, webapp_key: str) -> Iterator[httpx.Client]:
    """An HTTP client of the live server, with the key."""
    with httpx.Client(base_url=f"{site}/v1", headers={"Authorization": f"Bearer {webapp_key}"}) as client:
        yield client


def new_conversation(api: httpx.Client, **fields: str) -> str:
    response = api.post("/conversations", json=fields)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def add(api: httpx.Client, conversation_id: str, role: str, content: str, model: str | None = None) -> dict:
    response = api.post(
        f"/conversations/{conversation_id}/messages", json={"role": role, "content": content, "model": model}
    )
    assert response.status_code == 200, response.text
    return response.json()


def judge(api: httpx.Client, conversation_id: str, message: dict, **feedback: str) -> None:
    path = f"/conversations/{conversation_id}/messages/{message['id']}/feedback"
    assert api.put(path, json=feedback).status_code == 200


def exported(api: httpx.Client, conversation_id: str) -> list[dict]:
    """The examples the export holds for one conversation."""
    rows = [json.loads(line) for line in api.get("/feedback/export").text.splitlines()]
    return [r for r in rows if r["metadata"]["conversation_id"] == conversation_id]


def test_hand_off_moves_between_waiting_answered_and_closed(api: httpx.Client) -> None:
    cid = new_conversation(api, model="tiny-llama")
    assert api.post(f"/conversations/{cid}/handoff").json()["handoff"] == "waiting"
    queue = api.get("/conversations", params={"needs_agent": True}).json()["data"]
    assert cid in [c["id"] for c in queue]
    add(api, cid, "agent", "Hello, Sam here.")
    assert api.get(f"/conversations/{cid}").json()["handoff"] == "answered"
    add(api, cid, "user", "my order is late")
    assert api.get(f"/conversations/{cid}").json()["handoff"] == "waiting"
    assert api.delete(f"/conversations/{cid}/handoff").json()["handoff"] == "closed"
    queue = api.get("/conversations", params={"needs_agent": True}).json()["data"]
    assert cid not in [c["id"] for c in queue]


def test_export_trains_approved_corrected_and_agent_replies_only(api: httpx.Client, tmp_path: Path) -> None:
    cid = new_conversation(api, model="tiny-llama")
    add(api, cid, "user", "where is my parcel")
    bad = add(api, cid, "assistant", "No idea.", "tiny-llama")
    judge(api, cid, bad, rating="down")
    add(api, cid, "user", "hello?")
    add(api, cid, "user", "anyone?")
    add(api, cid, "agent", "Sorry! Please DM us your order number.")
    add(api, cid, "user", "thanks")
    good = add(api, cid, "assistant", "You're welcome!", "tiny-llama")
    judge(api, cid, good, rating="up")
    add(api, cid, "user", "bye")
    add(api, cid, "assistant", "Unjudged reply.", "tiny-llama")

    [example] = exported(api, cid)
    assert example["messages"] == [
        {"role": "user", "content": "where is my parcel"},
        {"role": "assistant", "content": "No idea.", "weight": 0},
        {"role": "user", "content": "hello?\nanyone?"},
        {"role": "assistant", "content": "Sorry! Please DM us your order number.", "weight": 1},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": "You're welcome!", "weight": 1},
    ]

    path = tmp_path / "feedback.jsonl"
    path.write_text((json.dumps(example) + "\n") * 10, encoding="utf-8")  # validation wants >= 10 examples
    report = validate_file(path)
    assert report.ok and report.format == "chat", report.findings


def test_an_agent_answer_after_an_unapproved_bot_reply_replaces_it(api: httpx.Client) -> None:
    cid = new_conversation(api, model="tiny-llama")
    add(api, cid, "user", "my card was charged twice")
    add(api, cid, "assistant", "Have you tried turning it off?", "tiny-llama")
    api.post(f"/conversations/{cid}/handoff")
    add(api, cid, "agent", "I've refunded the second charge.")

    [example] = exported(api, cid)
    assert example["messages"] == [
        {"role": "user", "content": "my card was charged twice"},
        {"role": "assistant", "content": "I've refunded the second charge.", "weight": 1},
    ]


def test_a_compare_conversation_exports_one_example_per_model(api: httpx.Client) -> None:
    cid = new_conversation(api, model="tiny-llama", compare_model="tiny-gemma")
    add(api, cid, "user", "opening hours?")
    llama = add(api, cid, "assistant", "Llama says 9 to 5.", "tiny-llama")
    gemma = add(api, cid, "assistant", "Gemma says 8 to 6.", "tiny-gemma")
    judge(api, cid, llama, rating="up")
    judge(api, cid, gemma, rating="down", correction="We are open 9am to 6pm.")

    by_model = {e["metadata"]["model"]: e["messages"][-1]["content"] for e in exported(api, cid)}
    assert by_model == {"tiny-llama": "Llama says 9 to 5.", "tiny-gemma": "We are open 9am to 6pm."}


def test_errors_are_openai_shaped(api: httpx.Client, site: str) -> None:
    missing = api.get("/conversations/conv_nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["param"] == "conversation_id"

    cid = new_conversation(api)
    question = add(api, cid, "user", "hi")
    refused = api.put(f"/conversations/{cid}/messages/{question['id']}/feedback", json={"rating": "up"})
    assert refused.status_code == 400 and "bot's replies" in refused.json()["error"]["message"]

    bad_role = api.post(f"/conversations/{cid}/messages", json={"role": "system", "content": "x"})
    assert bad_role.status_code == 400 and bad_role.json()["error"]["param"] == "role"

    anonymous = httpx.get(f"{site}/v1/conversations")
    assert anonymous.status_code == 401 and anonymous.json()["error"]["type"] == "authentication_error"


def test_renaming_and_switching_models(api: httpx.Client) -> None:
    cid = new_conversation(api, model="tiny-llama", compare_model="tiny-gemma")
    add(api, cid, "user", "first question, long enough to be shortened for the history list, surely")
    assert api.get(f"/conversations/{cid}").json()["title"].endswith("…")
    changed = api.patch(f"/conversations/{cid}", json={"title": None, "compare_model": None}).json()
    assert changed["title"].startswith("first question") and changed["compare_model"] is None
    renamed = api.patch(f"/conversations/{cid}", json={"title": "Parcel"}).json()
    assert (renamed["title"], renamed["model"]) == ("Parcel", "tiny-llama")


def test_deleting_removes_the_conversation_and_its_feedback(api: httpx.Client) -> None:
    cid = new_conversation(api)
    add(api, cid, "user", "hi")
    judge(api, cid, add(api, cid, "assistant", "Hello!", "tiny-llama"), rating="up")
    assert api.delete(f"/conversations/{cid}").json() == {"id": cid, "object": "conversation.deleted", "deleted": True}
    assert api.get(f"/conversations/{cid}").status_code == 404
    assert exported(api, cid) == []


def test_the_routes_are_documented_in_openapi(site: str) -> None:
    spec = httpx.get(f"{site}/openapi.json").json()
    paths = spec["paths"]
    assert set(paths["/v1/conversations"]) == {"get", "post"}
    assert set(paths["/v1/conversations/{conversation_id}"]) == {"get", "patch", "delete"}
    assert "put" in paths["/v1/conversations/{conversation_id}/messages/{message_id}/feedback"]
    assert set(paths["/v1/conversations/{conversation_id}/handoff"]) == {"post", "delete"}
    assert "application/jsonl" in paths["/v1/feedback/export"]["get"]["responses"]["200"]["content"]
    message = spec["components"]["schemas"]["MessageCreate"]["properties"]
    assert message["role"]["enum"] == ["user", "assistant", "agent"]
