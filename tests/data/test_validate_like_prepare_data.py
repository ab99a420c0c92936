"""``caretune validate`` on a legacy file reports what OpenAI's ``openai tools fine_tunes.prepare_data``
(openai 0.28.1, run for real) reports, each remark at the line it concerns."""

from __future__ import annotations

import json
import re
from pathlib import Path

from caretune.data.validate import validate_file
from tests.openai028 import needs_openai028, openai_env, run_cli

_PREFIX = "Instruction: answer politely.\nCustomer:"


def _legacy_file(path: Path) -> Path:
    rows = [{"prompt": f"{_PREFIX} question {i}\nAgent:", "completion": f" answer {i}\n"} for i in range(12)]
    rows[2]["metadata"] = {"brand": "Acme"}  # line 3: a key besides prompt and completion
    rows[4]["prompt"] = f"{_PREFIX} question 4\nAgent: first\nCustomer: more\nAgent:"  # line 5: two turns
    rows[6] = dict(rows[1])  # line 7 repeats line 2
    rows[7]["completion"] = "answer 7\n"  # line 8: no leading space
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _codes(path: Path) -> set[tuple[int | None, str]]:
    return {(f.line, f.code) for f in validate_file(path).findings}


def test_validate_names_each_remark_by_line(tmp_path: Path) -> None:
    assert {
        (3, "extra_key"), (5, "repeated_separator"), (7, "duplicate"), (8, "completion_no_space"),
        (None, "common_prompt_prefix"), (None, "few_examples"),
    } <= _codes(_legacy_file(tmp_path / "legacy.jsonl"))


def test_upper_case_and_identical_texts(tmp_path: Path) -> None:
    rows = [{"prompt": f"WHERE IS ORDER {i}?\nAgent:", "completion": " SHIPPED TODAY\n"} for i in range(12)]
    path = tmp_path / "shouting.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    codes = _codes(path)
    assert {(None, "upper_case_prompt"), (None, "identical_completions")} <= codes
    assert not validate_file(path).ok  # identical completions teach nothing: an error, as the tool has it


@needs_openai028
def test_the_real_tool_makes_the_same_remarks(tmp_path: Path) -> None:
    path = _legacy_file(tmp_path / "legacy.jsonl")
    out = run_cli("tools", "fine_tunes.prepare_data", "-f", path, "-q", env=openai_env()).stdout
    assert "Additional columns/keys present are: ['metadata']" in out
    duplicated_rows = json.loads(re.search(r"duplicated prompt-completion sets\. These are rows: (\[.*\])", out)[1])
    assert [row + 1 for row in duplicated_rows] == [7]  # the tool counts rows from 0, caretune lines from 1
    assert "more than once" in out and f"All prompts start with prefix `{_PREFIX}" in out
    assert "The completion should start with a whitespace character" in out
