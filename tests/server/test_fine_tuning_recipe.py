"""OpenAI's classic fine-tuning recipe, unchanged but for ``base_url``, against a live caretune server:
upload → create job → poll until succeeded → complete with the fine-tuned model → stream a chat.
"""

from __future__ import annotations

import csv
import io
import time

import openai
import pytest

from tests.server.live import TINY_MODEL

JOB_TIMEOUT_SECONDS = 240


def wait_for(client, job_id: str, statuses: tuple[str, ...], timeout: float = JOB_TIMEOUT_SECONDS):
    """Poll the job as a client would, until its status is one of ``statuses``."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job.status}"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def fine_tuned(base_url: str, api_key: str, tmp_path_factory: pytest.TempPathFactory):
    """Run the recipe's training half once: (client, succeeded job)."""
    from tests.conftest import synthetic_conversations, write_jsonl

    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=120)
    folder = tmp_path_factory.mktemp("recipe")
    train = write_jsonl(folder / "train.jsonl", synthetic_conversations(32, seed=1))
    valid = write_jsonl(folder / "valid.jsonl", synthetic_conversations(12, seed=2))
    training_file = client.files.create(file=train.open("rb"), purpose="fine-tune")
    validation_file = client.files.create(file=valid.open("rb"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(
        model=TINY_MODEL,
        training_file=training_file.id,
        validation_file=validation_file.id,
        suffix="acme-support",
        seed=11,
        hyperparameters={"n_epochs": 1, "batch_size": 8},
    )
    assert job.status == "validating_files"
    return client, wait_for(client, job.id, ("succeeded", "failed", "cancelled"))


def test_job_succeeds_with_openai_style_results(fine_tuned) -> None:
    client, job = fine_tuned
    assert job.status == "succeeded", job.error
    assert job.fine_tuned_model == f"ft:{TINY_MODEL}:caretune:acme-support:{job.id}"
    assert job.trained_tokens and job.trained_tokens > 0
    assert job.hyperparameters.n_epochs == 1 and job.hyperparameters.batch_size == 8
    [result_file] = job.result_files
    rows = list(csv.DictReader(io.StringIO(client.files.content(result_file).text)))
    assert rows and "step" in rows[0]
    assert client.files.retrieve(result_file).purpose == "fine-tune-results"


def test_events_carry_the_training_metrics(fine_tuned) -> None:
    client, job = fine_tuned
    events = list(client.fine_tuning.jobs.list_events(job.id, limit=100))
    metrics = [e for e in events if e.type == "metrics"]
    assert metrics and all(isinstance(e.data, dict) and "step" in e.data for e in metrics)
    messages = [e.message for e in events]
    assert messages[0] == "The job has successfully completed"
    assert "Fine-tuning job started" in messages and "Files validated, moving job to queued state" in messages
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert checkpoints and checkpoints[0].fine_tuned_model_checkpoint.startswith(job.fine_tuned_model)


def test_fine_tuned_model_is_listed_and_completes(fine_tuned) -> None:
    client, job = fine_tuned
    assert job.fine_tuned_model in [m.id for m in client.models.list().data]
    result = client.completions.create(
        model=job.fine_tuned_model,
        prompt="Customer: my order has not arrived yet\nAgent:",
        stop=["\nCustomer"],
        temperature=0.7,
        top_p=0.9,
        best_of=2,
        max_tokens=24,
    )
    assert result.model == job.fine_tuned_model
    assert result.choices[0].finish_reason in ("stop", "length")
    assert "\nCustomer" not in result.choices[0].text


def test_fine_tuned_model_streams_a_chat(fine_tuned) -> None:
    client, job = fine_tuned
    stream = client.chat.completions.create(
        model=job.fine_tuned_model,
        messages=[
            {"role": "system", "content": "You are a customer support agent for Acme."},
            {"role": "user", "content": "how do I reset my password"},
        ],
        max_tokens=24,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] in (
        ["stop"], ["length"])


def test_a_checkpoint_answers_as_a_model_of_its_own(fine_tuned) -> None:
    client, job = fine_tuned
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    last = max(checkpoints, key=lambda c: c.step_number)
    assert last.fine_tuned_model_checkpoint == f"{job.fine_tuned_model}:ckpt-step-{last.step_number}"
    prompt = "Customer: can I get a refund for my jacket\nAgent:"
    answers = [
        client.completions.create(model=model, prompt=prompt, temperature=0, max_tokens=12)
        for model in (last.fine_tuned_model_checkpoint, job.fine_tuned_model)
    ]
    assert answers[0].model == last.fine_tuned_model_checkpoint
    assert answers[0].choices[0].text == answers[1].choices[0].text  # the last checkpoint holds the final weights
    for unknown in (f"{job.fine_tuned_model}:ckpt-step-99999", f"ft:{TINY_MODEL}:caretune::ftjob-nope:ckpt-step-1"):
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            client.completions.create(model=unknown, prompt=prompt, max_tokens=2)


def test_only_checkpoints_still_on_disk_are_listed(fine_tuned) -> None:
    """Four steps, a checkpoint each; training keeps the latest two, and the list shows those two only."""
    client, job = fine_tuned
    checkpoints = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert [c.step_number for c in checkpoints] == [4, 3]
    for checkpoint in checkpoints:
        model = checkpoint.fine_tuned_model_checkpoint
        assert client.models.retrieve(model).id == model


def test_a_fine_tuned_model_can_be_fine_tuned_further(fine_tuned, tmp_path) -> None:
    from tests.conftest import synthetic_conversations, write_jsonl

    client, job = fine_tuned
    more = write_jsonl(tmp_path / "more.jsonl", synthetic_conversations(12, seed=5))
    training_file = client.files.create(file=more.open("rb"), purpose="fine-tune")
    child = client.fine_tuning.jobs.create(
        model=job.fine_tuned_model, training_file=training_file.id, suffix="more", hyperparameters={"n_epochs": 1}
    )
    child = wait_for(client, child.id, ("succeeded", "failed", "cancelled"))
    assert child.status == "succeeded", child.error
    assert child.model == job.fine_tuned_model
    assert child.fine_tuned_model == f"ft:{TINY_MODEL}:caretune:more:{child.id}"  # named after the base, as OpenAI's
    answer = client.completions.create(model=child.fine_tuned_model, prompt="Customer: hi\nAgent:", max_tokens=4)
    assert answer.choices[0].finish_reason in ("stop", "length")
    with pytest.raises(openai.NotFoundError, match="cannot be fine-tuned"):
        client.fine_tuning.jobs.create(model="ft:nope:caretune::ftjob-x", training_file=training_file.id)


def test_deleting_the_fine_tuned_model(fine_tuned, base_url: str, api_key: str) -> None:
    client, job = fine_tuned
    assert client.models.delete(job.fine_tuned_model).deleted
    assert job.fine_tuned_model not in [m.id for m in client.models.list().data]
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model=job.fine_tuned_model, prompt="hi", max_tokens=2)
