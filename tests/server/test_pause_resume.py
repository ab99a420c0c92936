"""Pausing a running job stops it at a checkpoint; resuming continues from there to the end (real worker)."""

from __future__ import annotations

import time

from tests.server.live import TINY_MODEL
from tests.server.test_fine_tuning_recipe import wait_for


def test_pause_at_a_checkpoint_and_resume_to_the_end(client, training_jsonl) -> None:
    training_file = client.files.create(file=training_jsonl.open("rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=training_file.id,
                                         hyperparameters={"n_epochs": 6, "batch_size": 2})
    deadline = time.monotonic() + 240
    while not client.fine_tuning.jobs.checkpoints.list(job.id).data:
        assert time.monotonic() < deadline, "no checkpoint yet"
        time.sleep(0.2)
    paused = client.fine_tuning.jobs.pause(job.id)
    assert paused.status == "paused"
    deadline = time.monotonic() + 120
    while not any(e.message.startswith("Fine-tuning job paused")
                  for e in client.fine_tuning.jobs.list_events(job.id, limit=3).data):
        assert time.monotonic() < deadline, "the training process did not stop"
        time.sleep(0.2)
    assert client.fine_tuning.jobs.retrieve(job.id).status == "paused"
    assert client.fine_tuning.jobs.resume(job.id).status == "queued"
    done = wait_for(client, job.id, ("succeeded", "failed", "cancelled"))
    assert done.status == "succeeded", done.error
    messages = [e.message for e in client.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "message"]
    assert any(m.startswith("Resuming from checkpoint-") for m in messages)
    assert "Fine-tuning job running again" in messages
