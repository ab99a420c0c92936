"""The legacy ``/v1/fine-tunes`` API's shapes, checks and event stream, on a server whose worker is off (jobs
stay where the API put them), with plain HTTP: the 0.x SDK's own calls are in test_classic_recipe.py."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.live import TINY_MODEL


@pytest.fixture()
def legacy(idle_server: tuple[str, str]) -> httpx.Client:
    url, key = idle_server
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
        yield http


@pytest.fixture()
def training_file_id(idle_server: tuple[str, str], training_jsonl: Path) -> str:
    url, key = idle_server
    client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
    return client.files.create(file=training_jsonl.open("rb"), purpose="fine-tune").id


def test_create_is_a_job_of_both_apis(legacy: httpx.Client, training_file_id: str, idle_server) -> None:
    body = {"training_file": training_file_id, "model": "curie", "n_epochs": 2, "prompt_loss_weight": 0.1,
            "suffix": "acme", "compute_classification_metrics": False}
    fine_tune = legacy.post("/fine-tunes", json=body).json()
    assert fine_tune["object"] == "fine-tune" and fine_tune["status"] == "pending"
    assert fine_tune["model"] == TINY_MODEL  # curie is an alias of the default base
    assert fine_tune["hyperparams"] == {"n_epochs": 2, "batch_size": None, "learning_rate_multiplier": None,
                                        "prompt_loss_weight": 0.1}
    assert [f["id"] for f in fine_tune["training_files"]] == [training_file_id]
    assert fine_tune["validation_files"] == [] and fine_tune["result_files"] == []
    messages = [e["message"] for e in fine_tune["events"]]
    assert messages[0].startswith("Created fine-tuning job") and "alias of 'tiny-gemma'" in messages[1]
    url, key = idle_server
    job = openai.OpenAI(base_url=url, api_key=key, max_retries=0).fine_tuning.jobs.retrieve(fine_tune["id"])
    assert job.status == "validating_files" and job.suffix == "acme" and job.hyperparameters.n_epochs == 2
    assert fine_tune["id"] in [f["id"] for f in legacy.get("/fine-tunes").json()["data"]]
    assert legacy.get(f"/fine-tunes/{fine_tune['id']}").json()["events"] == fine_tune["events"]


def test_without_a_model_the_default_base_is_trained(legacy: httpx.Client, training_file_id: str) -> None:
    assert legacy.post("/fine-tunes", json={"training_file": training_file_id}).json()["model"] == TINY_MODEL


@pytest.mark.parametrize(
    ("extra", "param", "status"),
    [
        ({"compute_classification_metrics": True}, "compute_classification_metrics", 400),
        ({"classification_n_classes": 3}, "classification_n_classes", 400),
        ({"n_epochs": 0}, "n_epochs", 400),
        ({"prompt_loss_weight": -0.5}, "prompt_loss_weight", 400),
        ({"model": "no-such-model"}, "model", 404),
        ({"training_file": "file-nope"}, "training_file", 404),
    ],
)
def test_bad_requests(legacy: httpx.Client, training_file_id: str, extra: dict, param: str, status: int) -> None:
    response = legacy.post("/fine-tunes", json={"training_file": training_file_id, **extra})
    assert response.status_code == status and response.json()["error"]["param"] == param


def test_cancel_and_events_oldest_first(legacy: httpx.Client, training_file_id: str) -> None:
    fine_tune = legacy.post("/fine-tunes", json={"training_file": training_file_id}).json()
    cancelled = legacy.post(f"/fine-tunes/{fine_tune['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    events = legacy.get(f"/fine-tunes/{fine_tune['id']}/events").json()
    assert events["object"] == "list" and events["data"][-1]["message"] == "Fine-tuning job cancelled"
    assert all(e["object"] == "fine-tune-event" for e in events["data"])
    again = legacy.post(f"/fine-tunes/{fine_tune['id']}/cancel")
    assert again.status_code == 400


def test_the_event_stream_ends_when_the_job_ends(legacy: httpx.Client, training_file_id: str) -> None:
    fine_tune = legacy.post("/fine-tunes", json={"training_file": training_file_id}).json()
    lines: list[str] = []

    def follow() -> None:
        with legacy.stream("GET", f"/fine-tunes/{fine_tune['id']}/events", params={"stream": "true"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines.extend(line for line in response.iter_lines() if line)

    reader = threading.Thread(target=follow)
    reader.start()
    reader.join(timeout=2)
    assert reader.is_alive()  # the job has not ended: the stream stays open
    legacy.post(f"/fine-tunes/{fine_tune['id']}/cancel")
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert lines[-1] == "data: [DONE]"
    messages = [json.loads(line.removeprefix("data: "))["message"] for line in lines[:-1]]
    assert messages[0].startswith("Created fine-tuning job") and messages[-1] == "Fine-tuning job cancelled"


def test_unknown_fine_tune_is_404(legacy: httpx.Client) -> None:
    for method, path in [
        ("GET", "/fine-tunes/ftjob-nope"), ("POST", "/fine-tunes/ftjob-nope/cancel"),
        ("GET", "/fine-tunes/ftjob-nope/events"), ("GET", "/fine-tunes/ftjob-nope/events?stream=true"),
    ]:
        response = legacy.request(method, path)
        assert response.status_code == 404 and response.json()["error"]["param"] == "fine_tuning_job_id"
