"""``caretune keys create|list|revoke`` and ``caretune serve``, run as a user runs them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx

from tests.cli.runner import CARETUNE_BIN, caretune
from tests.server.live import free_port

def test_keys_create_list_revoke(tmp_path: Path) -> None:
    from caretune.server.settings import ServerSettings
    from caretune.storage.db import make_engine, session_factory
    from caretune.storage.keys import live_key

    created = caretune("keys", "create", "--name", "mobile app", "--role", "app", "--data-dir", str(tmp_path))
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    listed = caretune("keys", "list", "--data-dir", str(tmp_path)).stdout
    key_id = listed.split("\t")[0]
    assert "mobile app" in listed and "active" in listed and secret not in listed
    db_bytes = (tmp_path / "caretune.db").read_bytes()
    assert secret.encode() not in db_bytes  # only the hash is stored
    sessions = session_factory(make_engine(ServerSettings(data_dir=tmp_path).resolved_database_url()))
    with sessions() as session:
        assert live_key(session, secret) is not None
    assert caretune("keys", "revoke", key_id, "--data-dir", str(tmp_path)).returncode == 0
    with sessions() as session:
        assert live_key(session, secret) is None
    assert "revoked" in caretune("keys", "list", "--data-dir", str(tmp_path)).stdout
    unknown = caretune("keys", "revoke", "key_nope", "--data-dir", str(tmp_path))
    assert unknown.returncode == 3 and "caretune: error:" in unknown.stderr


def wait_until_serving(port: int, server: subprocess.Popen, timeout: float = 60) -> httpx.Response:
    """Poll ``caretune serve`` on ``port`` until it answers (its model list, whatever the status)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
        except httpx.HTTPError:
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.2)


def test_serve_no_auth_is_announced(tiny_gemma_dir: Path, tmp_path: Path) -> None:
    """Also: the browser options reach the server (each origin of a repeated --cors-origin may call it)."""
    port = free_port()
    origins = ["https://shop.example.com", "https://help.example.com"]
    server = subprocess.Popen(
        [str(CARETUNE_BIN), "serve", "--port", str(port), "--data-dir", str(tmp_path), "--no-auth",
         "--model", f"tiny={tiny_gemma_dir}", "--engine", "transformers",
         *(part for origin in origins for part in ("--cors-origin", origin))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        response = wait_until_serving(port, server)
        assert response.status_code == 200 and response.json()["data"][0]["id"] == "tiny"
        for origin in (*origins, "https://evil.example.com"):
            answer = httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Origin": origin})
            assert (answer.headers.get("access-control-allow-origin") == origin) == (origin in origins)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=60)
    assert "--no-auth" in stderr
