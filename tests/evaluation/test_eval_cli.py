"""``caretune eval`` end to end on the tiny random Gemma: every report file, ``--compare``, ``--questions``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from caretune.cli import app
from caretune.evaluation.report import read_report
from tests.conftest import write_jsonl

RUNNER = CliRunner()
ALL_REFERENCE_METRICS = {
    "perplexity", "token_accuracy", "bleu", "bleu2", "chrf", "rouge_l", "semantic_similarity", "embedding_average",
    "reply_words", "clean_stop_rate", "repetition", "placeholder_rate", "customer_side_rate", "latency_s",
}


def _eval(*args: str) -> str:
    result = RUNNER.invoke(app, ["eval", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture()
def branded_data(chat_data_dir: Path) -> Path:
    """The shared prepared data with two brands in the test split (per-brand tables need them)."""
    test = chat_data_dir / "test.jsonl"
    rows = [json.loads(line) for line in test.read_text(encoding="utf-8").splitlines()]
    for i, row in enumerate(rows):
        row["metadata"] = {"brand": "Acme" if i % 2 else "Zeta"}
    write_jsonl(test, rows)
    return chat_data_dir


@pytest.fixture()
def report_dir(tiny_gemma_dir: Path, branded_data: Path, tmp_path: Path) -> Path:
    out = tmp_path / "report"
    _eval("--model", str(tiny_gemma_dir), "--data", str(branded_data / "test.jsonl"), "--out", str(out),
          "--max-tokens", "8", "--limit", "6", "--engine", "transformers")
    return out


def test_eval_writes_every_report_file(report_dir: Path) -> None:
    report = read_report(report_dir)
    assert report.n_turns == 6 and report.mode == "reference"
    assert [s.kind for s in report.systems] == ["model", "few-shot", "retrieval"]
    model, few_shot, retrieval = report.systems
    assert set(model.metrics) == ALL_REFERENCE_METRICS and model.metrics["perplexity"] > 1
    assert 0 <= model.metrics["token_accuracy"] <= 1
    assert retrieval.metrics["perplexity"] is None and retrieval.metrics["clean_stop_rate"] == 1
    # The synthetic agent reply is a function of the question: retrieval finds it exactly.
    assert retrieval.metrics["bleu"] == pytest.approx(100) and retrieval.metrics["rouge_l"] == pytest.approx(1)
    assert set(report.brands) == {"Acme", "Zeta"} and sum(report.brands.values()) == 6
    assert set(model.per_brand) == {"Acme", "Zeta"}
    assert len(report.samples) == 6 and set(report.samples[0].replies) == {s.name for s in report.systems}
    # The model against each baseline, per turn: retrieval answers these turns exactly, the random model cannot.
    against_retrieval = {d.metric: d for d in report.paired if d.against == "retrieval"}
    assert {(d.against, d.metric) for d in report.paired} == {
        (b, m) for b in ("few-shot " + model.name, "retrieval")
        for m in ("semantic_similarity", "rouge_l", "embedding_average")}
    assert against_retrieval["rouge_l"].high < 0 and against_retrieval["rouge_l"].worse == 6

    html = (report_dir / "report.html").read_text(encoding="utf-8")
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "<img" in html and 'src="http' not in html
    assert "## Per brand" in md and "## Sampled turns" in md and "| ROUGE-L F1 |" in md
    assert "Is the difference real?" in md and "| behind |" in md and "Is the difference real?" in html
    assert (report_dir / "charts" / "semantic_similarity.png").read_bytes().startswith(b"\x89PNG")


def test_compare_shows_changes(report_dir: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    newer.mkdir()
    report = read_report(report_dir)
    report.systems[0].metrics["rouge_l"] = report.systems[0].metrics["rouge_l"] + 0.25
    (newer / "metrics.json").write_text(report.model_dump_json(), encoding="utf-8")
    output = _eval("--compare", str(report_dir), str(newer))
    rouge_rows = [line for line in output.splitlines() if "ROUGE-L" in line]
    assert any("+0.25" in line and "better" in line for line in rouge_rows)
    assert any("same" in line for line in rouge_rows)


def test_questions_scores_without_references(tiny_gemma_dir: Path, chat_data_dir: Path, tmp_path: Path) -> None:
    questions = tmp_path / "questions.csv"
    questions.write_text(
        "tweet_id,inbound,text\n1,True,@AcmeHelp my parcel is late &amp; lost\n2,False,@brand reply from agent\n"
        '3,True,"how do I\nreset my password"\n',
        encoding="utf-8",
    )
    out = tmp_path / "questions-report"
    _eval("--model", str(tiny_gemma_dir), "--questions", str(questions), "--train",
          str(chat_data_dir / "train.jsonl"), "--out", str(out), "--max-tokens", "8", "--engine", "transformers")
    report = read_report(out)
    assert report.mode == "questions" and report.n_turns == 2
    assert report.samples[0].history[-1]["content"] == "my parcel is late & lost"
    for system in report.systems:
        assert {"on_topic", "repetition", "placeholder_rate", "customer_side_rate", "clean_stop_rate"} <= set(
            system.metrics
        )
        assert system.metrics.get("bleu") is None
    assert (out / "report.html").is_file()


def test_reuse_takes_matching_replies_from_a_previous_report(
    report_dir: Path, tiny_gemma_dir: Path, branded_data: Path, tmp_path: Path
) -> None:
    outcomes = json.loads((report_dir / "outcomes.json").read_text(encoding="utf-8"))
    assert [o["kind"] for o in outcomes] == ["model", "few-shot", "retrieval"]
    outcomes[0]["replies"] = [{**r, "text": "REUSED"} for r in outcomes[0]["replies"]]
    (report_dir / "outcomes.json").write_text(json.dumps(outcomes), encoding="utf-8")
    args = ["--model", str(tiny_gemma_dir), "--data", str(branded_data / "test.jsonl"), "--max-tokens", "8",
            "--limit", "6", "--engine", "transformers", "--reuse", str(report_dir)]
    name = outcomes[0]["name"]
    _eval(*args, "--out", str(tmp_path / "again"))
    assert {s.replies[name] for s in read_report(tmp_path / "again").samples} == {"REUSED"}
    # Other settings give other replies: nothing is reused.
    _eval(*args[:-2], "--max-tokens", "4", "--reuse", str(report_dir), "--out", str(tmp_path / "other"))
    assert "REUSED" not in {s.replies[name] for s in read_report(tmp_path / "other").samples}


def test_questions_take_a_runs_own_training_file(tiny_llama_run: Path, chat_data_dir: Path, tmp_path: Path) -> None:
    import shutil

    run = shutil.copytree(tiny_llama_run, tmp_path / "run")
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    train = chat_data_dir / "train.jsonl"
    (run / "run.json").write_text(json.dumps({**info, "data": {str(train): "sha"}}), encoding="utf-8")
    questions = write_jsonl(tmp_path / "questions.jsonl", ["where is my parcel", "reset my password"])
    out = tmp_path / "report"
    _eval("--model", str(run), "--questions", str(questions), "--out", str(out), "--max-tokens", "4",
          "--engine", "transformers")  # no --train: the run says what it was trained on
    assert read_report(out).settings.train == train


def test_questions_with_known_facts_are_fact_checked(tiny_gemma_dir: Path, chat_data_dir: Path, tmp_path: Path) -> None:
    from caretune.data.demo import demo_fact_questions_path

    out = tmp_path / "facts-report"
    _eval("--model", str(tiny_gemma_dir), "--questions", str(demo_fact_questions_path()), "--limit", "4", "--train",
          str(chat_data_dir / "train.jsonl"), "--out", str(out), "--max-tokens", "4", "--engine", "transformers")
    report = read_report(out)
    retrieval = next(s for s in report.systems if s.kind == "retrieval")
    # the retrieval baseline answers with the training data's replies, which never state the shop's facts
    assert retrieval.metrics["fact_accuracy"] == 0.0
    assert {"fact_accuracy", "invented_rate"} <= set(report.systems[0].metrics)
    assert any(p.metric == "fact_accuracy" for p in report.paired)
