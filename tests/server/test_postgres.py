"""caretune's state on PostgreSQL (``--database-url``): keys, files, a whole fine-tuning job run by the worker
process, a restart that finds everything where it was, and key lookups that never stall the event loop."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from sqlalchemy import text

from tests.server.live import TINY_MODEL, free_port, new_key, running_server
from tests.server.postgres import temporary_postgres
from tests.server.test_fine_tuning_recipe import wait_for


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with temporary_postgres() as url:
        yield url


def test_a_fine_tuning_job_and_a_restart_on_postgresql(server_settings, postgres_url: str, tmp_path: Path) -> None:
    from caretune.storage.db import make_engine, session_factory
    from caretune.storage.keys import KeySpec, create_key, revoke_key
    from tests.conftest import synthetic_conversations, write_jsonl

    settings = server_settings.model_copy(
        update={"port": free_port(), "data_dir": tmp_path / "server", "database_url": postgres_url}
    )
    key = new_key(settings)
    train = write_jsonl(tmp_path / "train.jsonl", synthetic_conversations(12, seed=4))
    with running_server(settings) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        uploaded = client.files.create(file=train.open("rb"), purpose="fine-tune")
        job = client.fine_tuning.jobs.create(
            model=TINY_MODEL, training_file=uploaded.id, hyperparameters={"n_epochs": 1, "batch_size": 4}
        )
        job = wait_for(client, job.id, ("succeeded", "failed", "cancelled"))
        assert job.status == "succeeded", job.error
        headers = {"Authorization": f"Bearer {key}"}
        conversation = httpx.post(f"{url}/conversations", json={"title": "Parcel"}, headers=headers).json()
        turn = {"role": "user", "content": "Where is my parcel? 📦"}
        assert httpx.post(f"{url}/conversations/{conversation['id']}/messages", json=turn, headers=headers).is_success

    db = make_engine(postgres_url)
    with session_factory(db)() as session:
        revoked, revoked_secret = create_key(session, KeySpec(name="to revoke", role="admin"))
        revoke_key(session, revoked.id)
        assert session.execute(text("SELECT count(*) FROM fine_tuning_jobs")).scalar_one() == 1
    db.dispose()
    assert not (tmp_path / "server" / "caretune.db").exists()  # nothing went to the default SQLite file

    with running_server(settings.model_copy(update={"port": free_port()})) as url:  # a restart
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        assert client.files.content(uploaded.id).content == train.read_bytes()
        again = client.fine_tuning.jobs.retrieve(job.id)
        assert again.status == "succeeded" and again.fine_tuned_model == job.fine_tuned_model
        assert any(e.type == "metrics" for e in client.fine_tuning.jobs.list_events(job.id, limit=100))
        assert job.fine_tuned_model in [m.id for m in client.models.list().data]
        answer = client.completions.create(model=job.fine_tuned_model, prompt="Customer: hi\nAgent:", max_tokens=4)
        assert answer.usage.completion_tokens > 0
        stored = httpx.get(f"{url}/conversations/{conversation['id']}", headers=headers).json()
        assert [m["content"] for m in stored["messages"]] == ["Where is my parcel? 📦"]
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url, api_key=revoked_secret, max_retries=0).models.list()


def test_a_key_lookup_on_postgresql_never_holds_up_other_requests(
    server_settings, postgres_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL a key's lookup is a network round trip, so it runs off the event loop: a request whose
    lookup waits (here for a lock on the keys table) holds up no other request, and a revocation still
    counts from the next request on."""
    from caretune.storage.db import create_all, make_engine, session_factory
    from caretune.storage.keys import KeySpec, create_key, revoke_key

    settings = server_settings.model_copy(update={
        "port": free_port(), "data_dir": tmp_path / "server", "database_url": postgres_url, "run_worker": False,
    })
    db = make_engine(postgres_url)
    create_all(db)
    with session_factory(db)() as session:
        row, secret = create_key(session, KeySpec(name="lookups", role="admin"))
    headers = {"Authorization": f"Bearer {secret}"}
    with running_server(settings) as url:
        assert httpx.get(f"{url}/models", headers=headers).status_code == 200
        with ThreadPoolExecutor(1) as pool, db.connect() as locker:  # on leaving: the lock first
            locker.execute(text("LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE"))  # until the rollback below
            waiting = pool.submit(httpx.get, f"{url}/models", headers=headers, timeout=60)
            time.sleep(0.5)
            assert not waiting.done()  # its key lookup waits for the lock
            assert httpx.get(url.removesuffix("/v1") + "/", timeout=5).status_code == 200  # the chat page: no key
            locker.rollback()
            assert waiting.result().status_code == 200
        with session_factory(db)() as session:
            revoke_key(session, row.id)
        refused = httpx.get(f"{url}/models", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    db.dispose()
