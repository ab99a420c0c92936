"""Per-key limits, accounting and the audit log on a live server: 429 with Retry-After over a key's rate or
its tokens for the day (before any engine work; concurrent requests included), usage per key and model for
admins (API and CLI; abandoned streams included), the keys API with revocation on the next request, and an
audit entry for each admin action."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest

from tests.cli.runner import caretune
from tests.conftest import synthetic_conversations
from tests.server.live import TINY_MODEL, free_port, new_key, read_then_leave, running_server


@pytest.fixture(scope="module")
def limited(server_settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A server without a job worker: (its URL, its settings)."""
    settings = server_settings.model_copy(
        update={"run_worker": False, "port": free_port(), "data_dir": tmp_path_factory.mktemp("limits")}
    )
    new_key(settings)  # the database exists before the server starts
    with running_server(settings) as url:
        yield url, settings


def _sdk(url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0, timeout=120)


def _usage(url: str, admin: str, key_id: str) -> list[dict]:
    response = httpx.get(f"{url}/usage", params={"key_id": key_id}, headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _key_id(url: str, key: str) -> str:
    return httpx.get(f"{url}/me", headers={"Authorization": f"Bearer {key}"}).json()["id"]


def test_over_the_rate_is_429_with_retry_after(limited) -> None:
    url, settings = limited
    key = new_key(settings, "app", rate_limit="3/min")
    headers = {"Authorization": f"Bearer {key}"}
    assert [httpx.get(f"{url}/models", headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    refused = httpx.get(f"{url}/models", headers=headers)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 20
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    with pytest.raises(openai.RateLimitError):
        _sdk(url, key).models.list()
    other = new_key(settings, "app", rate_limit="3/min")  # limits are per key
    assert httpx.get(f"{url}/models", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def test_a_request_whose_most_does_not_fit_the_budget_is_429_before_the_engine_runs(limited) -> None:
    url, settings = limited
    admin, key = new_key(settings), new_key(settings, "app", tokens_per_day=30)
    client = _sdk(url, key)
    first = client.completions.create(model=TINY_MODEL, prompt="Customer: hello there\nAgent:", max_tokens=3)
    assert 0 < first.usage.total_tokens <= 30
    with pytest.raises(openai.RateLimitError) as refused:  # its prompt and max_tokens may not fit what is left
        client.chat.completions.create(model=TINY_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=25)
    assert refused.value.body["code"] == "tokens_per_day_exceeded" and "max_tokens" in refused.value.message
    assert int(refused.value.response.headers["retry-after"]) <= 86_401
    [row] = _usage(url, admin, _key_id(url, key))
    assert row["requests"] == 1  # the refused request never reached the model
    assert row["prompt_tokens"] == first.usage.prompt_tokens
    assert row["completion_tokens"] == first.usage.completion_tokens
    assert client.models.list().data  # only token-spending routes are refused


def test_concurrent_requests_never_spend_more_than_the_budget(limited) -> None:
    """Each request holds its prompt and max_tokens of the budget before it runs, so requests that start
    together cannot all pass a check made before any of them is counted."""
    url, settings = limited
    admin = new_key(settings)
    prompt = "Customer: my parcel is late and the tracking page says nothing at all, what now?\nAgent:"
    probe = _sdk(url, admin).completions.create(model=TINY_MODEL, prompt=prompt, max_tokens=1)
    most = probe.usage.prompt_tokens + 10  # what one request below may use
    budget = 2 * most + most // 2
    key = new_key(settings, "app", tokens_per_day=budget)

    def ask(_: int) -> int | None:
        try:
            return _sdk(url, key).completions.create(model=TINY_MODEL, prompt=prompt, max_tokens=10).usage.total_tokens
        except openai.RateLimitError as refused:
            assert refused.body["code"] == "tokens_per_day_exceeded"
            return None

    with ThreadPoolExecutor(6) as pool:
        answered = [used for used in pool.map(ask, range(6)) if used is not None]
    assert 1 <= len(answered) <= 2, answered
    [row] = _usage(url, admin, _key_id(url, key))
    assert row["requests"] == len(answered)
    assert row["prompt_tokens"] + row["completion_tokens"] == sum(answered) <= budget


def test_a_stream_its_client_abandons_is_counted(limited) -> None:
    url, settings = limited
    admin, key = new_key(settings), new_key(settings, "app")
    body = {"model": TINY_MODEL, "messages": [{"role": "user", "content": "tell me everything"}],
            "max_tokens": 400, "temperature": 0, "stream": True}
    read_then_leave(url, key, body, {}, pieces=5)
    key_id = _key_id(url, key)
    for _ in range(100):  # counted when the server notices the client is gone; stored within a second
        rows = _usage(url, admin, key_id)
        if rows:
            break
        time.sleep(0.1)
    [row] = rows
    assert row["requests"] == 1 and row["prompt_tokens"] > 0
    assert 5 <= row["completion_tokens"] < 400  # at least the pieces it read, fewer than the whole answer


def test_tokens_used_before_a_restart_count_against_the_budget(limited) -> None:
    from datetime import datetime, timezone

    from caretune.storage.db import make_engine, session_factory
    from caretune.storage.usage import Counts, add_usage

    url, settings = limited
    key = new_key(settings, "app", tokens_per_day=100)
    db = make_engine(settings.resolved_database_url())
    with session_factory(db)() as session:  # what an earlier run of the server stored today
        add_usage(session, {(_key_id(url, key), TINY_MODEL, datetime.now(timezone.utc).date()): Counts(4, 60, 40)})
    db.dispose()
    with pytest.raises(openai.RateLimitError):
        _sdk(url, key).completions.create(model=TINY_MODEL, prompt="hi", max_tokens=2)


def test_usage_per_key_and_model_streams_included_for_admins_and_the_cli(limited) -> None:
    url, settings = limited
    admin, key = new_key(settings), new_key(settings, "app")
    client = _sdk(url, key)
    client.completions.create(model=TINY_MODEL, prompt="hi", max_tokens=2)
    client.completions.create(model="ada", prompt="hi", max_tokens=2)  # an alias counts for its model
    streamed = list(client.chat.completions.create(
        model=TINY_MODEL, messages=[{"role": "user", "content": "hi"}], max_tokens=2, stream=True,
        stream_options={"include_usage": True},
    ))
    key_id = _key_id(url, key)
    [row] = _usage(url, admin, key_id)
    assert row["model"] == TINY_MODEL and row["requests"] == 3 and row["key_name"] == "tests-app"
    assert row["completion_tokens"] >= streamed[-1].usage.completion_tokens > 0
    listed = caretune("keys", "usage", "--key", key_id, "--data-dir", str(settings.data_dir))
    assert listed.returncode == 0, listed.stderr
    assert f"{key_id}\ttests-app\t{TINY_MODEL}\t3\t" in listed.stdout
    forbidden = httpx.get(f"{url}/usage", headers={"Authorization": f"Bearer {key}"})
    assert forbidden.status_code == 403


def test_keys_api_creates_lists_and_revokes_on_the_next_request(limited) -> None:
    url, settings = limited
    admin = {"Authorization": f"Bearer {new_key(settings)}"}
    with httpx.Client(base_url=url, headers=admin) as http:
        bad = http.post("/keys", json={"role": "agent", "models": [TINY_MODEL]})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "models"
        assert http.post("/keys", json={"role": "app", "rate_limit": "5/week"}).status_code == 400
        created = http.post("/keys", json={"name": "kiosk", "role": "app", "models": [TINY_MODEL],
                                           "rate_limit": "10/s", "tokens_per_day": 1000}).json()
        secret = created.pop("secret")
        assert created["role"] == "app" and created["models"] == [TINY_MODEL] and created["revoked_at"] is None
        listed = http.get("/keys").json()["data"]
        assert created["id"] in [k["id"] for k in listed] and secret not in json.dumps(listed)
        client = _sdk(url, secret)
        assert client.models.list().data
        assert http.post(f"/keys/{created['id']}/revoke").json()["revoked_at"] is not None
        with pytest.raises(openai.AuthenticationError):
            client.models.list()
        assert http.post("/keys/key_nope/revoke").status_code == 404


def test_every_admin_action_is_in_the_audit_log(limited, tmp_path: Path) -> None:
    url, settings = limited
    admin_key = new_key(settings)
    admin_id = _key_id(url, admin_key)
    data = "".join(json.dumps(e) + "\n" for e in synthetic_conversations(16))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=120) as http:
        key = http.post("/keys", json={"role": "agent"}).json()
        http.post(f"/keys/{key['id']}/revoke")
        upload = http.post("/files", files={"file": ("support.jsonl", data)}, data={"purpose": "fine-tune"}).json()
        job = http.post("/fine_tuning/jobs", json={"model": TINY_MODEL, "training_file": upload["id"]}).json()
        http.post(f"/fine_tuning/jobs/{job['id']}/cancel")
        http.delete(f"/files/{upload['id']}")
        http.post("/knowledge", json={"name": "audited"})
        http.post("/knowledge/audited/documents", files={"file": ("faq.md", b"# Returns\nWithin 30 days.\n")})
        http.delete("/knowledge/audited/documents/faq.md")
        http.delete("/knowledge/audited")
        assert http.delete("/models/ft:tiny-gemma:caretune::ftjob-0123456789ab").status_code == 404  # not logged
        page = http.get("/audit", params={"limit": 9}).json()
        older = http.get("/audit", params={"limit": 1, "before": page["data"][-1]["id"]}).json()
    events = list(reversed(page["data"] + older["data"]))
    assert [(e["action"], e["target"]) for e in events] == [
        ("key.created", key["id"]), ("key.revoked", key["id"]), ("file.uploaded", upload["id"]),
        ("job.created", job["id"]), ("job.cancelled", job["id"]), ("file.deleted", upload["id"]),
        ("knowledge.created", "audited"), ("knowledge.document_added", "audited"),
        ("knowledge.document_removed", "audited"), ("knowledge.deleted", "audited"),
    ]
    assert all(e["key_id"] == admin_id and e["via"] == "api" and e["created_at"] > 0 for e in events)
    assert page["has_more"] is True
    created = caretune("keys", "create", "--role", "agent", "--data-dir", str(settings.data_dir))
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as http:
        [latest] = http.get("/audit", params={"limit": 1}).json()["data"]
        assert latest["action"] == "key.created" and latest["via"] == "cli" and latest["key_id"] is None
        assert created.returncode == 0
        agent = {"Authorization": f"Bearer {created.stdout.strip()}"}
        assert httpx.get(f"{url}/audit", headers=agent).status_code == 403
