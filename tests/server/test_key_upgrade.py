"""A database made before keys had roles: after the upgrade its keys are admin keys and keep working, and
its conversations stay an admin's (no app key's customer sees them)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.server.live import free_port, new_key, running_server

OLD_SECRET = "ct-a-key-made-before-roles-existed-0123456789"
# The two tables as caretune 8ff14c6 created them (`sqlite_master`), with a key and a conversation in them.
OLD_DATABASE = """
CREATE TABLE api_keys (
    id VARCHAR(40) NOT NULL, name VARCHAR(200) NOT NULL, key_hash VARCHAR(64) NOT NULL,
    display_prefix VARCHAR(16) NOT NULL, created_at DATETIME NOT NULL, revoked_at DATETIME, PRIMARY KEY (id)
);
CREATE UNIQUE INDEX ix_api_keys_key_hash ON api_keys (key_hash);
CREATE TABLE conversations (
    id VARCHAR(40) NOT NULL, title VARCHAR(200) NOT NULL, model VARCHAR(200), compare_model VARCHAR(200),
    handoff VARCHAR(16) NOT NULL, handoff_reason VARCHAR(32), handoff_draft TEXT, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL, PRIMARY KEY (id)
);
CREATE INDEX ix_conversations_updated_at ON conversations (updated_at);
CREATE INDEX ix_conversations_handoff ON conversations (handoff);
INSERT INTO api_keys VALUES ('key_old', 'laptop', '{hash}', 'ct-a-key-m', '2026-01-01 00:00:00.000000', NULL);
INSERT INTO conversations VALUES ('conv_old', 'Where is my parcel?', 'tiny-gemma', NULL, 'none', NULL, NULL,
    '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000');
"""


def test_keys_made_before_roles_are_admin_keys_after_the_upgrade(server_settings, tmp_path: Path) -> None:
    from caretune.storage.keys import hash_key

    with sqlite3.connect(tmp_path / "caretune.db") as db:
        db.executescript(OLD_DATABASE.format(hash=hash_key(OLD_SECRET)))
    settings = server_settings.model_copy(update={"port": free_port(), "data_dir": tmp_path, "run_worker": False})
    app_key = new_key(settings, "app")  # new_key upgrades the database as the server does
    with running_server(settings) as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {OLD_SECRET}"}) as old:
            me = old.get("/me").json()
            assert (me["id"], me["role"]) == ("key_old", "admin")
            assert old.get("/files").status_code == 200
            assert [k["role"] for k in old.get("/keys").json()["data"]] == ["admin", "app"]
            assert [c["id"] for c in old.get("/conversations").json()["data"]] == ["conv_old"]
        headers = {"Authorization": f"Bearer {app_key}", "X-Caretune-User": "anyone"}
        with httpx.Client(base_url=url, headers=headers) as app:
            assert app.get("/conversations").json()["data"] == []
            assert app.get("/conversations/conv_old").status_code == 404
    with sqlite3.connect(tmp_path / "caretune.db") as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(conversations)")}
    assert "ix_conversations_owner" in indexes
