"""``caretune feedback export`` on its own: an empty database gives an empty file, a bad URL a clear error."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.cli.runner import caretune


def export(out: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    return caretune("feedback", "export", "--out", out, "--database-url", database_url)


def test_an_empty_database_exports_an_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "feedback.jsonl"
    result = export(out, f"sqlite:///{tmp_path / 'caretune.db'}")
    assert result.returncode == 0, result.stderr
    assert out.read_text() == ""
    assert "wrote 0 examples" in result.stdout


def test_an_unusable_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = export(tmp_path / "feedback.jsonl", "nosuchdb://somewhere")
    assert result.returncode == 4
    assert result.stderr.startswith("caretune: error: cannot read the database nosuchdb://somewhere")
