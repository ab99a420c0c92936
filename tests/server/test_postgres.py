"""caretune's state on PostgreSQL (``--database-url``): keys, files, a whole fine-tuning job run by the worker
process, and a restart that finds everything where it was."""

from __future__ import annotations

from collections.abc import Iterator
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
