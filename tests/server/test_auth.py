"""Bearer keys: required on every /v1 route, hashed at rest, revocable; --no-auth only when asked."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.server.live import free_port, running_server


def test_missing_and_wrong_keys_are_401_in_openai_shape(base_url: str) -> None:
    response = httpx.get(f"{base_url}/models")
    assert response.status_code == 401
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base_url, api_key="ct-wrong", max_retries=0).models.list()


@pytest.mark.parametrize("path", ["/models", "/files", "/fine_tuning/jobs"])
def test_every_v1_route_needs_a_key(base_url: str, path: str) -> None:
    assert httpx.get(base_url + path).status_code == 401


@pytest.mark.parametrize(
    "value",
    [b"", b"Bearer", b"Basic dXNlcjpwYXNz", b"Token ct-x", b"Bearer ct-x extra", b"bearer ct-nope",
     b"Bearer  ct-x", b"Bearer " + b"x" * 10_000, b"Bearer \xff\xfe", b"ct-only-the-key"],
    ids=["empty", "scheme-only", "basic", "token", "extra-part", "lowercase", "double-space", "long", "latin-1",
         "no-scheme"],
)
def test_every_malformed_authorization_is_401(base_url: str, value: bytes) -> None:
    response = httpx.get(f"{base_url}/models", headers={"Authorization": value})
    assert response.status_code == 401, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_revoked_key_stops_working(server_settings, base_url: str) -> None:
    from caretune.storage.db import make_engine, session_factory
    from caretune.storage.keys import KeySpec, create_key, hash_key, revoke_key

    sessions = session_factory(make_engine(server_settings.resolved_database_url()))
    with sessions() as session:
        row, secret = create_key(session, KeySpec(name="to revoke", role="admin"))
        assert row.key_hash == hash_key(secret) and secret not in row.key_hash
    client = openai.OpenAI(base_url=base_url, api_key=secret, max_retries=0)
    assert client.models.list().data
    with sessions() as session:
        revoke_key(session, row.id)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()


def test_no_auth_serves_without_a_key(server_settings, tmp_path) -> None:
    settings = server_settings.model_copy(update={"no_auth": True, "port": free_port(), "data_dir": tmp_path})
    with running_server(settings) as url:
        assert httpx.get(f"{url}/models").status_code == 200


def test_openapi_spec_is_served(base_url: str) -> None:
    spec = httpx.get(base_url.removesuffix("/v1") + "/openapi.json").json()
    assert "/v1/chat/completions" in spec["paths"]


def test_chat_page_is_served_at_root_without_a_key(base_url: str) -> None:
    response = httpx.get(base_url.removesuffix("/v1") + "/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
