"""Jobs survive a server restart (the running one resumes from its checkpoint) and can be cancelled."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from caretune.server.job_scheduler import IDLE_POLL_SECONDS
from tests.server.live import TINY_MODEL, free_port, new_key, running_server
from tests.server.test_fine_tuning_recipe import wait_for


@pytest.fixture()
def own_settings(server_settings, tmp_path: Path):
    """Settings of a server of this test only (same model, its own database and data dir)."""
    return server_settings.model_copy(update={"port": free_port(), "data_dir": tmp_path / "server"})


def _upload_and_create(client, folder: Path, **hyperparameters) -> str:
    from tests.conftest import synthetic_conversations, write_jsonl

    train = write_jsonl(folder / "train.jsonl", synthetic_conversations(12, seed=4))
    file_id = client.files.create(file=train.open("rb"), purpose="fine-tune").id
    return client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=file_id, hyperparameters=hyperparameters).id


def _wait_for_checkpoint(client, job_id: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not client.fine_tuning.jobs.checkpoints.list(job_id).data:
        assert client.fine_tuning.jobs.retrieve(job_id).status in ("validating_files", "queued", "running")
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.2)


def test_restart_in_the_middle_of_a_job_resumes_it(own_settings, tmp_path: Path) -> None:
    key = new_key(own_settings)
    with running_server(own_settings) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        # Long enough (60 steps, a checkpoint every ~12) that the server stops it mid-run even on a fast machine.
        job_id = _upload_and_create(client, tmp_path, n_epochs=5, batch_size=1)
        queued_id = _upload_and_create(client, tmp_path / "second", n_epochs=1, batch_size=12)
        _wait_for_checkpoint(client, job_id)
        running = client.fine_tuning.jobs.retrieve(job_id)
        assert running.status == "running" and running.estimated_finish is not None
        assert running.estimated_finish >= time.time() - 5  # from the pace of the steps so far: not in the past
    with running_server(own_settings.model_copy(update={"port": free_port()})) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        # The resumed job comes first; the other one is still waiting its turn (cancelled: the test is done).
        assert client.fine_tuning.jobs.retrieve(queued_id).status in ("validating_files", "queued")
        client.fine_tuning.jobs.cancel(queued_id)
        job = wait_for(client, job_id, ("succeeded", "failed", "cancelled"))
        assert job.status == "succeeded", job.error
        assert job.estimated_finish is None  # OpenAI's: only a running job has one
        messages = [e.message for e in client.fine_tuning.jobs.list_events(job_id, limit=100)]
        assert any(m.startswith("Training paused") for m in messages)
        assert any(m.startswith("Resuming from checkpoint-") for m in messages)



def test_cancelling_a_running_job_stops_it(own_settings, tmp_path: Path) -> None:
    key = new_key(own_settings)
    with running_server(own_settings) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        created = time.monotonic()
        job_id = _upload_and_create(client, tmp_path, n_epochs=10, batch_size=1)
        wait_for(client, job_id, ("running",))
        # The API wakes the idle worker; it does not wait for its next look at the database.
        assert time.monotonic() - created < IDLE_POLL_SECONDS / 3
        assert client.fine_tuning.jobs.cancel(job_id).status == "cancelled"
        time.sleep(2)  # the worker, woken by the cancel, ends the training process
        job = client.fine_tuning.jobs.retrieve(job_id)
        assert job.status == "cancelled" and job.fine_tuned_model is None
        assert not any(e.type == "metrics" and e.created_at > job.finished_at + 2
                       for e in client.fine_tuning.jobs.list_events(job_id, limit=100))


def test_a_job_resumes_from_its_checkpoint_after_the_server_is_killed(
    own_settings, tiny_gemma_dir: Path, tmp_path: Path
) -> None:
    """``kill -9`` of ``caretune serve`` mid-job: its training process notices, saves a checkpoint and ends (no
    orphan trains on), and the next server resumes the job from that checkpoint to success."""
    import subprocess

    import psutil

    from tests.cli.runner import CARETUNE_BIN
    from tests.server.test_cli import wait_until_serving

    key = new_key(own_settings)
    port = free_port()
    server = subprocess.Popen(
        [str(CARETUNE_BIN), "serve", "--port", str(port), "--data-dir", str(own_settings.data_dir),
         "--model", f"{TINY_MODEL}={tiny_gemma_dir}", "--engine", "transformers"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_serving(port, server)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key, max_retries=0)
        # 96 steps, a checkpoint every 19: the kill comes with many steps left even on a fast machine.
        job_id = _upload_and_create(client, tmp_path, n_epochs=8, batch_size=1)
        _wait_for_checkpoint(client, job_id)
        trainer = next(p for p in psutil.process_iter(["cmdline"]) if job_id in (p.info["cmdline"] or []))
    finally:
        server.kill()
        server.wait()
    trainer.wait(timeout=120)  # it ends by itself
    with running_server(own_settings.model_copy(update={"port": free_port()})) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        job = wait_for(client, job_id, ("succeeded", "failed", "cancelled"))
        assert job.status == "succeeded", job.error
        messages = [e.message for e in client.fine_tuning.jobs.list_events(job_id, limit=100)]
        assert any(m.startswith("Resuming from checkpoint-") for m in messages), messages
