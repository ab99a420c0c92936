"""``caretune validate`` as a user runs it: printed findings, exit codes, --json, --fix, --tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.runner import caretune
from tests.data.test_validate import chat, clean_lines, legacy, write


def test_clean_file_exits_0_with_a_summary(tmp_path: Path) -> None:
    path = write(tmp_path / "train.jsonl", clean_lines(120))
    result = caretune("validate", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines() == [
        f"{path}: OK: chat format, 120 examples, 0 errors, 0 warnings; tokens: "
        + result.stdout.split("tokens: ")[1].strip()
    ]
    assert "approximate" in result.stdout


def test_errors_print_file_line_level_and_exit_1(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines[2] = '{"messages": ['
    path = write(tmp_path / "train.jsonl", lines)
    result = caretune("validate", path)
    assert result.returncode == 1
    assert f"{path}:3: error: invalid JSON at column 15" in result.stdout
    assert f"{path}: warning: 11 examples" in result.stdout
    assert "FAILED" in result.stdout


def test_warnings_alone_exit_0(tmp_path: Path) -> None:
    result = caretune("validate", write(tmp_path / "few.jsonl", clean_lines(20)))
    assert result.returncode == 0 and ": warning: 20 examples" in result.stdout


def test_unreadable_file_exits_3(tmp_path: Path) -> None:
    result = caretune("validate", tmp_path / "missing.jsonl")
    assert result.returncode == 3
    assert result.stderr.startswith("caretune: error: ") and "no such file" in result.stderr


def test_json_report(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines.append(lines[0])
    result = caretune("validate", write(tmp_path / "train.jsonl", lines), "--json")
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"] is True and report["n_examples"] == 13
    duplicate = {"line": 13, "level": "warning", "code": "duplicate", "message": "exact duplicate of line 1"}
    assert duplicate in report["findings"]


def test_fix_writes_a_clean_copy_and_leaves_the_original(tmp_path: Path) -> None:
    lines = clean_lines(12)
    lines[1] = "not json"
    lines[3] = json.dumps(chat(" padded question ", "padded answer\n"))
    lines.append(lines[0])
    lines.append(json.dumps({"messages": [{"role": "user", "content": "no answer"}]}))
    path = write(tmp_path / "train.jsonl", lines)
    before = path.read_bytes()
    result = caretune("validate", path, "--fix")
    fixed = tmp_path / "train.fixed.jsonl"
    assert path.read_bytes() == before
    assert result.returncode == 0, result.stdout
    assert "fix: line 2: dropped: invalid JSON" in result.stdout
    assert "fix: line 4: repaired: stripped whitespace" in result.stdout
    assert "fix: line 13: dropped: exact duplicate of line 1" in result.stdout
    assert "fix: line 14: dropped: no assistant message" in result.stdout
    assert f"fix: wrote {fixed}: 11 examples" in result.stdout
    check = caretune("validate", fixed)
    assert check.returncode == 0 and "11 examples, 0 errors, 1 warning;" in check.stdout  # only "11 examples: ... 100"
    assert json.loads(fixed.read_text().splitlines()[2]) == chat("padded question", "padded answer")


def test_fix_adds_legacy_markers(tmp_path: Path) -> None:
    lines = [legacy(f"question {i}\n\n###\n\n", f" answer {i} END") for i in range(12)]
    lines[0] = legacy("question 0", "answer 0")
    path = write(tmp_path / "legacy.jsonl", lines)
    assert caretune("validate", path).returncode == 1
    assert caretune("validate", path, "--fix").returncode == 0
    fixed = [json.loads(line) for line in (tmp_path / "legacy.fixed.jsonl").read_text().splitlines()]
    assert fixed[0] == {"prompt": "question 0\n\n###\n\n", "completion": " answer 0 END"}
    assert fixed[1:] == [json.loads(line) for line in lines[1:]]


def test_tokenizer_option_counts_exactly(tmp_path: Path, tiny_tokenizer_dir: Path) -> None:
    path = write(tmp_path / "train.jsonl", clean_lines(120))
    result = caretune("validate", path, "--tokenizer", tiny_tokenizer_dir, "--context-length", "8")
    assert result.returncode == 1
    assert "(counted with the tokenizer)" in result.stdout
    assert f"{path}:1: error:" in result.stdout and "longer than the context window of 8" in result.stdout


def test_a_directory_that_is_not_a_tokenizer_exits_3(tmp_path: Path) -> None:
    path = write(tmp_path / "train.jsonl", clean_lines(12))
    result = caretune("validate", path, "--tokenizer", tmp_path)
    assert result.returncode == 3 and "tokenizer" in result.stderr
