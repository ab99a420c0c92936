"""The classic GPT-3 support-bot recipe, as written, with the real openai 0.28.1 SDK and CLI against a live
caretune server (tiny model): a CSV of conversation rows → ``caretune prepare --format completion`` →
``openai tools fine_tunes.prepare_data`` → ``openai api fine_tunes.create -t … -m ada`` followed to the end →
``Completion.create`` with the fine-tune and with ``engine="davinci"``.
"""

from __future__ import annotations

import csv
import itertools
import re
from pathlib import Path

import pytest

from tests.cli.runner import caretune
from tests.openai028 import needs_openai028, openai_env, run_cli, run_sdk
from tests.server.live import TINY_MODEL

pytestmark = needs_openai028

# (customer's greeting, agent's): the replies vary as real ones do, so the tool sees generation, not classes.
_GREETINGS = [("hi", "Hi!"), ("hello", "Hello!"), ("hey there", "Hey!"), ("good morning", "Good morning!"),
              ("excuse me", "Sure!")]
_QUESTIONS = {
    "my order has not arrived yet": "Sorry to hear that! Please DM us your order number and we will check.",
    "how do I reset my password": "You can reset it from Settings > Account > Reset password.",
    "can I get a refund for my jacket": "Refunds are possible within 30 days of delivery.",
    "what are your opening hours on sunday": "We are open 9am to 6pm Monday to Saturday, closed on Sunday.",
    "can i preorder a playstation": "Preorders open two weeks before release on our website.",
    "where is my parcel it was due yesterday": "Standard shipping takes 3 to 5 working days.",
}


def write_conversations_csv(path: Path) -> Path:
    """A support log as the classic notebook had it: conversation id, customer text, agent text per row;
    every third conversation goes on for a second exchange."""
    questions = list(_QUESTIONS.items())
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["conversation_id", "customer", "agent"])
        for n, ((greeting, hello), (question, answer)) in enumerate(itertools.product(_GREETINGS, questions)):
            writer.writerow([f"c{n}", f"{greeting}, {question}", f"{hello} {answer}"])
            if n % 3 == 0:
                follow_up, reply = questions[(n + 1) % len(questions)]
                writer.writerow([f"c{n}", f"also {follow_up}", reply])
    return path


@pytest.fixture(scope="module")
def recipe(base_url: str, api_key: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The recipe's training half, run once: the prepared file, the CLI's output, the job and model ids."""
    folder = tmp_path_factory.mktemp("classic")
    source = write_conversations_csv(folder / "support.csv")
    prepared = caretune("prepare", source, "--out", folder / "data", "--format", "completion",
                        "--valid-fraction", "0", "--test-fraction", "0", "--quiet")
    assert prepared.returncode == 0, prepared.stderr
    env = openai_env(base_url, api_key)
    analysis = run_cli("tools", "fine_tunes.prepare_data", "-f", folder / "data" / "train.jsonl", "-q", env=env)
    assert analysis.returncode == 0, analysis.stderr
    data_file = re.search(r'openai api fine_tunes\.create -t "([^"]+)"', analysis.stdout)[1]
    created = run_cli("api", "fine_tunes.create", "-t", data_file, "-m", "ada", env=env, timeout=600)
    assert created.returncode == 0, created.stderr
    return {
        "env": env,
        "analysis": analysis.stdout,
        "data_file": data_file,
        "stdout": created.stdout,
        "job_id": re.search(r"Created fine-tune: (\S+)", created.stdout)[1],
        "file_id": re.search(r"Uploaded file from .*: (file-\S+)", created.stdout)[1],
        "model": re.search(r"openai api completions\.create -m (\S+) -p", created.stdout)[1],
    }


def test_prepare_data_asks_for_no_necessary_action(recipe: dict) -> None:
    assert "prompt-completion pairs" in recipe["analysis"] and "classification" not in recipe["analysis"]
    assert "[Necessary]" not in recipe["analysis"] and "ERROR" not in recipe["analysis"]


def test_fine_tunes_create_uploads_and_follows_the_job_to_its_end(recipe: dict) -> None:
    out = recipe["stdout"]
    assert "Streaming events until fine-tuning is complete" in out
    assert re.search(r"\] Created fine-tuning job: " + recipe["job_id"], out)
    assert "Model 'ada' is an alias of 'tiny-gemma'" in out
    assert "The job has successfully completed" in out and "Job complete! Status: succeeded" in out
    assert recipe["model"] == f"ft:{TINY_MODEL}:caretune::{recipe['job_id']}"  # a fine-tune of ada's base


def test_both_completions_of_the_recipe(recipe: dict) -> None:
    code = f"""
completion = openai.Completion()
tuned = completion.create(model={recipe["model"]!r}, prompt="\\nCustomer: can i preorder a playstation\\nAgent:",
                          stop=["\\nCustomer"], temperature=0.3, top_p=1, best_of=1, max_tokens=150)
before = completion.create(prompt="\\nCustomer: can i preorder a playstation\\nAgent:", engine="davinci",
                           stop=["\\nHuman"], temperature=0.9, top_p=1, best_of=1, max_tokens=150)
result = [tuned.to_dict_recursive(), before.to_dict_recursive()]
"""
    tuned, before = run_sdk(code, recipe["env"])
    assert tuned["object"] == "text_completion" and tuned["model"] == recipe["model"]
    assert before["model"] == TINY_MODEL  # davinci answers with the default base model
    for answer in (tuned, before):
        [choice] = answer["choices"]
        assert isinstance(choice["text"], str) and choice["finish_reason"] in ("stop", "length")
        assert answer["usage"]["completion_tokens"] <= 150
    assert "\nCustomer" not in tuned["choices"][0]["text"]


def test_the_legacy_job_is_the_same_job_in_both_apis(recipe: dict, client) -> None:
    legacy = run_sdk(f"result = openai.FineTune.retrieve({recipe['job_id']!r}).to_dict_recursive()", recipe["env"])
    assert legacy["object"] == "fine-tune" and legacy["status"] == "succeeded"
    assert legacy["fine_tuned_model"] == recipe["model"] and legacy["model"] == TINY_MODEL
    assert legacy["hyperparams"]["prompt_loss_weight"] == 0.0 and legacy["hyperparams"]["n_epochs"] >= 1
    assert [f["id"] for f in legacy["training_files"]] == [recipe["file_id"]]
    assert legacy["events"][0]["object"] == "fine-tune-event"
    assert legacy["events"][-1]["message"] == "The job has successfully completed"  # oldest first
    job = client.fine_tuning.jobs.retrieve(recipe["job_id"])
    assert job.fine_tuned_model == recipe["model"] and job.result_files == [legacy["result_files"][0]["id"]]
    listed = run_cli("api", "fine_tunes.list", env=recipe["env"])
    assert recipe["job_id"] in listed.stdout


def test_results_are_the_metrics_csv_and_follow_ends_at_once(recipe: dict) -> None:
    results = run_cli("api", "fine_tunes.results", "-i", recipe["job_id"], env=recipe["env"])
    assert results.returncode == 0, results.stderr
    header, *rows = list(csv.reader(results.stdout.strip().splitlines()))
    assert header[0] == "step" and "train_loss" in header and rows
    followed = run_cli("api", "fine_tunes.follow", "-i", recipe["job_id"], env=recipe["env"], timeout=60)
    assert "The job has successfully completed" in followed.stdout and "Job complete!" in followed.stdout


def test_the_duplicate_file_check_offers_the_uploaded_file(recipe: dict) -> None:
    again = run_cli("api", "fine_tunes.create", "-t", recipe["data_file"], "-m", "ada", "--no_follow",
                    env=recipe["env"], stdin=recipe["file_id"] + "\n")
    assert again.returncode == 0, again.stderr
    assert "Found potentially duplicated files with name" in again.stdout
    assert f"Reusing already uploaded file: {recipe['file_id']}" in again.stdout
    job_id = re.search(r'"id": "(ftjob-\w+)"', again.stdout)[1]
    cancelled = run_cli("api", "fine_tunes.cancel", "-i", job_id, env=recipe["env"])
    assert '"status": "cancelled"' in cancelled.stdout


def test_a_file_name_is_no_file_id(base_url: str, api_key: str) -> None:
    code = """
result = []
for name in ("data_prepared.jsonl", "/tmp/x/data_prepared.jsonl"):
    try:
        openai.File.retrieve(name)
    except openai.error.InvalidRequestError as exc:
        result.append(exc.http_status)
"""
    assert run_sdk(code, openai_env(base_url, api_key)) == [404, 404]
