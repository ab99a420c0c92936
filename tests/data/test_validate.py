"""caretune.data.validate as a library: each check fires on a crafted file, at the right line and level."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caretune.data.validate import validate_file
from caretune.errors import InputError


def chat(question: str, answer: str, **extra: object) -> dict:
    """A minimal valid chat example."""
    return {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}], **extra}


def clean_lines(n: int) -> list[str]:
    """``n`` distinct valid chat examples, one JSON line each."""
    return [json.dumps(chat(f"question number {i}", f"answer number {i}")) for i in range(n)]


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def findings_at(report, line: int) -> set[tuple[str, str]]:
    return {(f.code, f.level) for f in report.findings if f.line == line}


def pair(user: dict, assistant: dict) -> str:
    """A user turn and an assistant turn given as their fields, as a JSON line."""
    return json.dumps({"messages": [{"role": "user", **user}, {"role": "assistant", **assistant}]})


BAD_LINES = {
    "invalid_json": ('{"messages": [', "error"),
    "not_an_object": ("[1, 2]", "error"),
    "invalid_role": (pair({"content": "hi", "role": "bot"}, {"content": "x"}), "error"),
    "invalid_field": (pair({}, {"content": "x"}), "error"),
    "no_assistant": (json.dumps({"messages": [{"role": "user", "content": "anyone there?"}]}), "error"),
    "empty_content": (json.dumps(chat("   \n", "an answer")), "error"),
    "weight_not_assistant": (pair({"content": "q", "weight": 1}, {"content": "a"}), "error"),
    "no_trained_turn": (pair({"content": "q"}, {"content": "a", "weight": 0}), "error"),
    "whitespace": (json.dumps(chat("padded question", "  padded answer ")), "warning"),
    "unknown_key": (pair({"content": "q", "contnet": "x"}, {"content": "a"}), "warning"),
    "mixed_format": (json.dumps({"prompt": "q\n\n###\n\n", "completion": " a END"}), "error"),
    "unknown_format": (json.dumps({"text": "just text"}), "error"),
    "blank_line": ("", "warning"),
}


@pytest.mark.parametrize("code", sorted(BAD_LINES))
def test_each_check_reports_the_bad_line(tmp_path: Path, code: str) -> None:
    bad, level = BAD_LINES[code]
    lines = clean_lines(12)
    lines.insert(4, bad)  # line 5
    report = validate_file(write(tmp_path / "train.jsonl", lines))
    assert (code, level) in findings_at(report, 5)
    assert {f.line for f in report.findings if f.line is not None} == {5}
    assert report.ok == (level == "warning")


def test_a_weight_other_than_0_or_1_is_a_field_error(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines[2] = pair({"content": "q"}, {"content": "a", "weight": 2})
    report = validate_file(write(tmp_path / "w.jsonl", lines))
    [finding] = [f for f in report.findings if f.line == 3]
    assert finding.code == "invalid_field" and "messages[1].weight" in finding.message


def test_duplicates_name_the_line_they_repeat(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines.append(lines[1])  # line 13 repeats line 2
    lines.append(json.dumps(chat("QUESTION   number 3!!", "Answer number 3.")))  # line 14 ~ line 4
    report = validate_file(write(tmp_path / "d.jsonl", lines))
    by_line = {f.line: f for f in report.findings if f.line}
    assert by_line[13].code == "duplicate" and "line 2" in by_line[13].message
    assert by_line[14].code == "near_duplicate" and "line 4" in by_line[14].message
    assert report.ok


@pytest.mark.parametrize(
    ("n", "expected"),
    [(9, ("too_few_examples", "error")), (50, ("few_examples", "warning")), (100, None)],
)
def test_the_number_of_examples_is_checked(tmp_path: Path, n: int, expected: tuple[str, str] | None) -> None:
    report = validate_file(write(tmp_path / "n.jsonl", clean_lines(n)))
    assert report.n_examples == n
    file_level = {(f.code, f.level) for f in report.findings if f.line is None}
    assert file_level == ({expected} if expected else set())


def test_a_clean_file_has_no_findings(tmp_path: Path) -> None:
    report = validate_file(write(tmp_path / "clean.jsonl", clean_lines(120)))
    assert report.ok and report.findings == [] and report.format == "chat"


def test_too_long_is_an_estimate_without_a_tokenizer(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines[6] = json.dumps(chat(" ".join(["word"] * 200), "short answer"))
    report = validate_file(write(tmp_path / "long.jsonl", lines), context_length=100)
    [finding] = [f for f in report.findings if f.line is not None]
    assert (finding.line, finding.code, finding.level) == (7, "too_long", "warning")
    assert "approximate" in finding.message and not report.tokens.exact


def test_too_long_is_an_error_when_counted_with_the_tokenizer(tmp_path: Path, tiny_tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_tokenizer_dir)
    question = " ".join(["my order has not arrived yet"] * 20)
    lines = clean_lines(12)
    lines[6] = json.dumps(chat(question, "short answer"))
    report = validate_file(write(tmp_path / "long.jsonl", lines), tokenizer=tiny_tokenizer_dir, context_length=60)
    [finding] = [f for f in report.findings if f.line is not None]
    assert (finding.line, finding.code, finding.level) == (7, "too_long", "error")
    assert "approximate" not in finding.message and report.tokens.exact
    assert report.tokens.max > len(tokenizer.encode(question, add_special_tokens=False))


def legacy(prompt: str, completion: str) -> str:
    return json.dumps({"prompt": prompt, "completion": completion})


def test_legacy_format_separator_stop_and_leading_space(tmp_path: Path) -> None:
    lines = [legacy(f"question {i}\n\n###\n\n", f" answer {i} END") for i in range(12)]
    lines[1] = legacy("question 1", " answer 1 END")
    lines[2] = legacy("question 2\n\n###\n\n", " answer 2")
    lines[3] = legacy("question 3\n\n###\n\n", "answer 3 END")
    report = validate_file(write(tmp_path / "legacy.jsonl", lines))
    assert report.format == "completion"
    assert report.markers.separator == "\n\n###\n\n" and report.markers.stop == " END"
    assert findings_at(report, 2) == {("missing_separator", "error")}
    assert findings_at(report, 3) == {("missing_stop", "error")}
    assert findings_at(report, 4) == {("completion_no_space", "warning")}


def test_legacy_file_without_markers_gets_file_warnings(tmp_path: Path) -> None:
    lines = [legacy(f"question {i}?", f" answer {i}.") for i in range(12)]
    report = validate_file(write(tmp_path / "plain.jsonl", lines))
    assert report.markers.separator is None and report.markers.stop is None
    codes = {(f.line, f.code) for f in report.findings}
    assert {(None, "no_separator"), (None, "no_stop")} <= codes


@pytest.mark.parametrize(
    ("content", "reason", "line"),
    [
        (None, "no such file", None),
        (b"", "empty", None),
        (b"  \n\n", "empty", None),
        (b'{"a": 1}\n{"b": 2}\n{"c": "\xff"}\n', "UTF-8", 3),
    ],
)
def test_an_unreadable_file_is_an_input_error(
    tmp_path: Path, content: bytes | None, reason: str, line: int | None
) -> None:
    path = tmp_path / "x.jsonl"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as info:
        validate_file(path)
    assert reason in str(info.value) and info.value.line == line and info.value.exit_code == 3


def test_a_wrong_value_is_quoted_but_cut_short(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines[0] = json.dumps({"messages": {"role": "user", "content": "long " * 100}})
    [finding] = [f for f in validate_file(write(tmp_path / "v.jsonl", lines)).findings if f.line == 1]
    assert finding.message.startswith("messages: Input should be a valid list (got {'role': 'user'")
    assert len(finding.message) < 120 and finding.message.endswith("...)")
