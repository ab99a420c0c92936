"""schemathesis against the live server's ``/openapi.json``: whatever the input, never a 500, with an admin
key and with an app key (which must never see another customer's conversation).

Examples are bounded (and generation sizes clamped) so the whole run stays well under a minute on the tiny
model; the worker is off so that fuzzed fine-tuning jobs do not start trainings.
"""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.server.live import TINY_MODEL

USER = "X-Caretune-User"
SECRET = "alice's order 5512 goes to 1 Elm Street"

# Keep fuzzed generation small: the point is input handling, not generating 128 x 512 tokens.
_CLAMPS = {"n": 2, "best_of": 2, "max_tokens": 4, "max_completion_tokens": 4}


def _focus(body: object) -> None:
    """Point inference requests at the served model (so parameters get checked, not just the model name)
    and clamp generation sizes."""
    if isinstance(body, dict):
        if "model" in body:
            body["model"] = TINY_MODEL
        if "messages" in body and body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
            body["max_completion_tokens"] = _CLAMPS["max_completion_tokens"]
        for key, cap in _CLAMPS.items():
            value = body.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > cap:
                body[key] = cap


def _operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(url.removesuffix("/v1") + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def _app_key(url: str, admin_key: str) -> str:
    """A new app key of the server, and a conversation of its customer "alice" that says ``SECRET``."""
    admin = {"Authorization": f"Bearer {admin_key}"}
    key = httpx.post(f"{url}/keys", headers=admin, json={"role": "app"}).json()["secret"]
    alice = {"Authorization": f"Bearer {key}", USER: "alice"}
    cid = httpx.post(f"{url}/conversations", headers=alice, json={"model": TINY_MODEL}).json()["id"]
    httpx.post(f"{url}/conversations/{cid}/messages", headers=alice, json={"role": "user", "content": SECRET})
    return key


@pytest.mark.parametrize("role", ["admin", "app"])
def test_no_input_gives_a_server_error(idle_server: tuple[str, str], role: str) -> None:
    """Whatever the input, no 500; with an app key (speaking for "bob"), no answer shows alice's conversation."""
    url, key = idle_server
    headers = {"Authorization": f"Bearer {key}"}
    if role == "app":
        headers = {"Authorization": f"Bearer {_app_key(url, key)}", USER: "bob"}
    operations = _operations(url)
    paths = {op.path for op in operations}
    assert {
        "/v1/chat/completions", "/v1/engines/{engine}/completions", "/v1/fine-tunes", "/v1/fine-tunes/{fine_tune_id}",
        "/v1/fine-tunes/{fine_tune_id}/cancel", "/v1/fine-tunes/{fine_tune_id}/events",
        "/v1/fine_tuning/jobs/{fine_tuning_job_id}/pause", "/v1/fine_tuning/jobs/{fine_tuning_job_id}/resume",
        "/v1/uploads", "/v1/uploads/{upload_id}/parts", "/v1/uploads/{upload_id}/complete",
        "/v1/uploads/{upload_id}/cancel", "/v1/keys", "/v1/usage", "/v1/audit", "/v1/me", "/v1/session",
    } <= paths
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def check(case) -> None:
            _focus(case.body)
            response = case.call(headers=headers, timeout=60)
            assert response.status_code < 500, (case.method, case.path, case.body, response.text[:500])
            if response.status_code >= 400:
                assert set(response.json()["error"]) == {"message", "type", "param", "code"}
            assert SECRET not in response.text, (case.method, case.path)

        check()


# Shapes a schema-driven fuzzer does not write but a hostile client does: integers past 64 bits (as values and
# as a mapping's keys), lone UTF-16 surrogates (valid JSON escapes, no text), JSON nested past Python's
# recursion limit, and non-finite numbers (Python's JSON reader takes them).
HUGE = 10**23
DEEP = "__deep__"  # stands for 100,000 nested arrays, which json.dumps itself could not write
HOSTILE = [HUGE, -HUGE, "\ud800x", {str(HUGE): 1, "\udfff": 1}, ["x\udfff", HUGE], DEEP, float("inf")]
HOSTILE_IN_PATHS = ["%ED%A0%80", f"ft:a:b:c:d:ckpt-step-{HUGE}", str(HUGE), "x" * 5000]


def _leaves(value: object, path: tuple = ()) -> list[tuple]:
    """Every place in a JSON value a hostile one can go: its members and items, at any depth."""
    places = [path] if path else []
    if isinstance(value, dict):
        places += [p for key, item in value.items() for p in _leaves(item, (*path, key))]
    elif isinstance(value, list):
        places += [p for i, item in enumerate(value[:2]) for p in _leaves(item, (*path, i))]
    return places


def _with(body: object, path: tuple, hostile: object) -> str:
    """``body`` as JSON text with ``hostile`` at ``path`` (surrogates escaped; the deep marker expanded)."""
    body = json.loads(json.dumps(body))
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = hostile
    text = json.dumps(body)  # ensure_ascii: a lone surrogate goes as its escape, as a hostile client sends it
    return text.replace(f'"{DEEP}"', "[" * 100_000 + "]" * 100_000)


def _hostile_requests(case, properties: list[str]) -> list[tuple[str, str, str | None]]:
    """(method, path, JSON body) for ``case`` with one hostile value in one place: each path parameter, each
    value of its body, and each body property the generated body left out."""
    method, path = case.method, case.formatted_path
    requests = [
        (method, case.operation.path.format(**{**case.path_parameters, name: value}), None)
        for name in case.path_parameters or {} for value in HOSTILE_IN_PATHS
    ]
    if isinstance(case.body, dict):
        places = _leaves(case.body) + [(name,) for name in properties if name not in case.body]
        requests += [(method, path, _with(case.body, place, value)) for place in places for value in HOSTILE]
    return requests


def test_hostile_values_give_no_server_error(idle_server: tuple[str, str]) -> None:
    """Each operation's body (one example of it) with one hostile value in each place in turn, and each path
    parameter made hostile: every answer is below 500, in OpenAI's shape."""
    url, key = idle_server
    root = url.removesuffix("/v1")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    sent = 0
    with httpx.Client(base_url=root, headers=headers, timeout=60) as http:
        for operation in _operations(url):
            schema = operation.definition.raw.get("requestBody", {}).get("content", {}).get("application/json", {})
            properties = list(_resolve(operation, schema.get("schema", {})).get("properties", {}))

            @given(case=operation.as_strategy())
            @settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            def check(case) -> None:
                nonlocal sent
                _focus(case.body)
                for method, path, body in _hostile_requests(case, properties):
                    response = http.request(method, path, content=body)
                    sent += 1
                    assert response.status_code < 500, (method, path, (body or "")[:300], response.text[:500])
                    if response.status_code >= 400:
                        assert set(response.json()["error"]) == {"message", "type", "param", "code"}

            check()
    assert sent > 300  # every operation took part


def _resolve(operation, schema: dict) -> dict:
    """``schema`` with its ``$ref`` followed (request bodies are references to components)."""
    ref = schema.get("$ref")
    if not ref:
        return schema
    node = operation.schema.raw_schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node
