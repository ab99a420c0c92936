"""Fixtures of the server tests: a live server with the tiny Gemma, a key, the official SDK client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.live import TINY_MODEL, free_port, new_key, running_server


@pytest.fixture(scope="session")
def server_settings(tiny_gemma_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Settings of the shared test server: the tiny Gemma as its only base, transformers engine."""
    from caretune.server.settings import ServerSettings

    return ServerSettings(
        port=free_port(),
        data_dir=tmp_path_factory.mktemp("server"),
        models=[f"{TINY_MODEL}={tiny_gemma_dir}"],
        engine="transformers",
        max_upload_mb=1,
    )


@pytest.fixture(scope="session")
def api_key(server_settings) -> str:
    """A valid key of the shared test server."""
    return new_key(server_settings)


@pytest.fixture(scope="session")
def base_url(server_settings, api_key: str) -> Iterator[str]:
    """The shared test server, running for the whole session."""
    with running_server(server_settings) as url:
        yield url


@pytest.fixture()
def client(base_url: str, api_key: str):
    """The official OpenAI SDK pointed at the test server (no retries: a failure must show)."""
    from openai import OpenAI

    return OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def idle_server(server_settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A server whose job worker is off, so jobs stay where the API put them: (base URL, key)."""
    settings = server_settings.model_copy(
        update={"run_worker": False, "port": free_port(), "data_dir": tmp_path_factory.mktemp("idle")}
    )
    key = new_key(settings)
    with running_server(settings) as url:
        yield url, key


@pytest.fixture()
def training_jsonl(tmp_path: Path) -> Path:
    """A valid chat-format training file."""
    from tests.conftest import synthetic_conversations, write_jsonl

    return write_jsonl(tmp_path / "train.jsonl", synthetic_conversations(48, seed=1))
