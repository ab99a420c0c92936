"""The fine-tuning jobs API's shapes and checks, on a server whose worker is off (jobs stay put)."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.server.live import TINY_MODEL


@pytest.fixture()
def idle_client(idle_server: tuple[str, str]):
    url, key = idle_server
    return openai.OpenAI(base_url=url, api_key=key, max_retries=0)


@pytest.fixture()
def training_file_id(idle_client, training_jsonl: Path) -> str:
    return idle_client.files.create(file=training_jsonl.open("rb"), purpose="fine-tune").id


def test_create_get_and_cancel(idle_client, training_file_id: str) -> None:
    job = idle_client.fine_tuning.jobs.create(
        model=TINY_MODEL, training_file=training_file_id, suffix="acme", seed=7,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 4}}},
    )
    assert job.object == "fine_tuning.job" and job.status == "validating_files"
    assert job.seed == 7 and job.hyperparameters.n_epochs == 2 and job.fine_tuned_model is None
    assert idle_client.fine_tuning.jobs.retrieve(job.id).id == job.id
    cancelled = idle_client.fine_tuning.jobs.cancel(job.id)
    assert cancelled.status == "cancelled" and cancelled.finished_at is not None
    with pytest.raises(openai.BadRequestError):
        idle_client.fine_tuning.jobs.cancel(job.id)
    messages = [e.message for e in idle_client.fine_tuning.jobs.list_events(job.id).data]
    assert messages[0] == "Fine-tuning job cancelled" and messages[-1].startswith("Created fine-tuning job")
    assert idle_client.fine_tuning.jobs.checkpoints.list(job.id).data == []


def test_list_paginates_newest_first(idle_client, training_file_id: str) -> None:
    created = [
        idle_client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=training_file_id).id for _ in range(3)
    ]
    first = idle_client.fine_tuning.jobs.list(limit=2)
    assert [j.id for j in first.data] == created[::-1][:2] and first.has_more
    rest = idle_client.fine_tuning.jobs.list(limit=2, after=first.data[-1].id)
    assert rest.data[0].id == created[0]
    every = [j.id for j in idle_client.fine_tuning.jobs.list(limit=2)]  # the SDK follows `after` page by page
    assert every[:3] == created[::-1] and len(every) == len(set(every))


@pytest.mark.parametrize(
    ("kwargs", "error", "param"),
    [
        ({"model": "no-such-model"}, openai.NotFoundError, "model"),
        ({"training_file": "file-nope"}, openai.NotFoundError, "training_file"),
        ({"validation_file": "file-nope"}, openai.NotFoundError, "validation_file"),
        ({"hyperparameters": {"n_epochs": 0}}, openai.BadRequestError, "hyperparameters.n_epochs"),
        ({"hyperparameters": {"learning_rate_multiplier": -1}}, openai.BadRequestError,
         "hyperparameters.learning_rate_multiplier"),
        ({"suffix": "has spaces"}, openai.BadRequestError, "suffix"),
    ],
)
def test_bad_job_requests(idle_client, training_file_id: str, kwargs: dict, error: type, param: str) -> None:
    request = {"model": TINY_MODEL, "training_file": training_file_id, **kwargs}
    with pytest.raises(error) as info:
        idle_client.fine_tuning.jobs.create(**request)
    assert info.value.body["param"] == param


def test_unknown_job_is_404(idle_client) -> None:
    for call in (
        idle_client.fine_tuning.jobs.retrieve,
        idle_client.fine_tuning.jobs.cancel,
        idle_client.fine_tuning.jobs.list_events,
        idle_client.fine_tuning.jobs.checkpoints.list,
    ):
        with pytest.raises(openai.NotFoundError):
            call("ftjob-nope")


def test_metadata_is_kept_and_filters_the_listing(idle_client, training_file_id: str) -> None:
    tagged = idle_client.fine_tuning.jobs.create(
        model=TINY_MODEL, training_file=training_file_id, metadata={"team": "returns", "run": "a"}
    )
    other = idle_client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=training_file_id,
                                                metadata={"team": "billing"})
    assert idle_client.fine_tuning.jobs.retrieve(tagged.id).metadata == {"team": "returns", "run": "a"}
    assert [j.id for j in idle_client.fine_tuning.jobs.list(metadata={"team": "returns"})] == [tagged.id]
    assert [j.id for j in idle_client.fine_tuning.jobs.list(metadata={"team": "billing"})] == [other.id]
    assert list(idle_client.fine_tuning.jobs.list(metadata={"team": "returns", "run": "b"})) == []


@pytest.mark.parametrize(
    ("metadata", "where"),
    [({f"k{i}": "v" for i in range(17)}, "metadata"), ({"k" * 65: "v"}, "metadata"), ({"k": "v" * 513}, "metadata.k")],
    ids=["17-pairs", "long-key", "long-value"],
)
def test_metadata_limits(idle_client, training_file_id: str, metadata: dict, where: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        idle_client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=training_file_id, metadata=metadata)
    assert info.value.body["param"].startswith(where)


def test_integrations_are_refused_by_name(idle_client, training_file_id: str) -> None:
    with pytest.raises(openai.BadRequestError, match="integrations are not supported") as info:
        idle_client.fine_tuning.jobs.create(
            model=TINY_MODEL, training_file=training_file_id,
            integrations=[{"type": "wandb", "wandb": {"project": "support-bot"}}],
        )
    assert info.value.body["param"] == "integrations"


def test_pause_and_resume_a_queued_job(idle_client, training_file_id: str) -> None:
    job = idle_client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=training_file_id)
    with pytest.raises(openai.BadRequestError, match="only a queued or running job"):
        idle_client.fine_tuning.jobs.pause(job.id)  # still validating_files: the worker is off
    with pytest.raises(openai.BadRequestError, match="not paused"):
        idle_client.fine_tuning.jobs.resume(job.id)
    with pytest.raises(openai.NotFoundError):
        idle_client.fine_tuning.jobs.pause("ftjob-nope")


def test_the_legacy_prompt_loss_weight_is_a_hyperparameter(idle_client, training_file_id: str) -> None:
    job = idle_client.fine_tuning.jobs.create(
        model=TINY_MODEL, training_file=training_file_id, hyperparameters={"n_epochs": 1, "prompt_loss_weight": 0.01}
    )
    assert job.hyperparameters.to_dict() == {
        "n_epochs": 1, "batch_size": "auto", "learning_rate_multiplier": "auto", "prompt_loss_weight": 0.01
    }
    with pytest.raises(openai.BadRequestError) as info:
        idle_client.fine_tuning.jobs.create(model=TINY_MODEL, training_file=training_file_id,
                                            hyperparameters={"prompt_loss_weight": 2})
    assert info.value.body["param"] == "hyperparameters.prompt_loss_weight"
