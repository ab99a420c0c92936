"""``CARETUNE_HOME`` is read in one place: ``~`` is expanded and an empty value means unset, for the model
cache and the server's data alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from caretune.home import caretune_home
from caretune.server.settings import ServerSettings


@pytest.mark.parametrize(
    ("value", "home"),
    [("~/elsewhere", Path.home() / "elsewhere"), ("", Path.home() / ".cache" / "caretune"), (None, None)],
)
def test_caretune_home(monkeypatch: pytest.MonkeyPatch, value: str | None, home: Path | None) -> None:
    if value is None:
        monkeypatch.delenv("CARETUNE_HOME", raising=False)
        home = Path.home() / ".cache" / "caretune"
    else:
        monkeypatch.setenv("CARETUNE_HOME", value)
    assert caretune_home() == home
    assert ServerSettings().data_dir == home / "server"
