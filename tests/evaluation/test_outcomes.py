"""Reusing replies: a key over everything that decides them, and nothing that does not."""

from __future__ import annotations

import json
from pathlib import Path

from caretune.evaluation.outcomes import outcome_key
from caretune.evaluation.turns import Turn


def test_calibrating_a_run_keeps_its_replies_reusable_but_retraining_does_not(tmp_path: Path) -> None:
    run_json = tmp_path / "run.json"
    info = {"name": "r", "status": "succeeded", "trained_tokens": 10}
    run_json.write_text(json.dumps(info), encoding="utf-8")
    turns = [Turn(history=[{"role": "user", "content": "hi"}], reference="hello")]
    key = outcome_key("model", str(tmp_path), turns, {"max_tokens": 8})
    run_json.write_text(json.dumps({**info, "handoff": {"threshold": 0.4}}), encoding="utf-8")
    assert outcome_key("model", str(tmp_path), turns, {"max_tokens": 8}) == key
    run_json.write_text(json.dumps({**info, "trained_tokens": 20}), encoding="utf-8")
    assert outcome_key("model", str(tmp_path), turns, {"max_tokens": 8}) != key
