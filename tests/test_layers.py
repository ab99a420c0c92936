"""The layering contract of pyproject.toml: each stage imports only the ones below it, ``runs`` no stage."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import caretune

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT), "--no-cache", str(ROOT / "pyproject.toml")], capture_output=True, text=True, env=env,
        cwd=package_parent, timeout=120,
    )


def test_no_stage_imports_upward() -> None:
    done = _lint(Path(caretune.__file__).parents[1])
    assert done.returncode == 0, done.stdout[-3000:]


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is live: a copy of the package where the engines import the server fails it."""
    copy = tmp_path / "caretune"
    shutil.copytree(Path(caretune.__file__).parent, copy, ignore=shutil.ignore_patterns("*.csv", "__pycache__"))
    with (copy / "engines" / "loading.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom caretune.server import settings  # noqa: E402,F401\n")
    with (copy / "runs" / "refs.py").open("a", encoding="utf-8") as f:
        f.write("\nfrom caretune.training import config  # noqa: E402,F401\n")
    done = _lint(tmp_path)
    assert done.returncode == 1
    assert "caretune.engines.loading -> caretune.server.settings" in done.stdout
    assert "caretune.runs.refs -> caretune.training.config" in done.stdout
