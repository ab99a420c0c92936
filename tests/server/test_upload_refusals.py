"""A refused upload leaves nothing in the file store, and its error names no server path; what an
interrupted upload leaves is swept at the next start."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import openai
import pytest

from tests.server.live import free_port, new_key, running_server

NESTED = b"[" * 100_000 + b"]" * 100_000 + b"\n"
CHAT_LINE = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})


def _stored(settings) -> set[str]:
    return {path.name for path in (settings.data_dir / "files").iterdir()}


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\n\n  \n",
        bytes(range(256)) * 64,
        # A small gzip bomb: 64 KB that would inflate to 64 MB. The server never decompresses an upload, so
        # it is binary to it; the test shows it is refused and not kept, at any ratio.
        gzip.compress(b"\0" * (64 << 20), compresslevel=9),
        (CHAT_LINE + "\n").encode("utf-16"),
        NESTED,
        (CHAT_LINE + "\n").encode() * 11 + NESTED,
    ],
    ids=["empty", "blank-lines", "binary", "gzip-bomb", "utf-16", "nested", "nested-after-good-lines"],
)
def test_a_refused_upload_is_400_and_leaves_nothing(client, server_settings, content: bytes) -> None:
    before = _stored(server_settings)
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=("support.jsonl", content), purpose="fine-tune")
    error = info.value.body
    assert error["param"] == "file" and error["code"] == "invalid_file_format", error
    assert str(server_settings.data_dir) not in error["message"] and "/files/" not in error["message"], error
    assert _stored(server_settings) == before


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(base_url: str, api_key: str, server_settings) -> None:
    """Both ways a too-large body arrives: a Content-Length over the limit is refused before the body is read;
    a chunked body (no length) is cut while it is copied in."""
    before = _stored(server_settings)
    big = b'{"prompt": "x", "completion": "y"}\n' * 40_000  # 1.4 MB; the test server's limit is 1 MB
    headers = {"Authorization": f"Bearer {api_key}"}
    declared = httpx.post(f"{base_url}/files", headers=headers, data={"purpose": "fine-tune"},
                          files={"file": ("big.jsonl", big)})
    assert declared.status_code == 413 and declared.json()["error"]["param"] == "file"
    boundary = "caretune-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--{boundary}\r\n'
            f'Content-Disposition: form-data; name="file"; filename="big.jsonl"\r\n\r\n').encode()
    body += big + f"\r\n--{boundary}--\r\n".encode()

    def chunked():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = httpx.post(f"{base_url}/files", content=chunked(),
                          headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert streamed.status_code == 413, streamed.text
    assert _stored(server_settings) == before


def test_an_upload_part_over_the_announced_size_leaves_nothing(client, server_settings) -> None:
    upload = client.uploads.create(bytes=10, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune")
    with pytest.raises(openai.APIStatusError) as info:
        client.uploads.parts.create(upload.id, data=b"x" * 11)
    assert info.value.status_code == 413
    assert list((server_settings.data_dir / "uploads" / upload.id).iterdir()) == []


def test_an_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    from caretune.storage.files import FileStore

    class Failing:
        """A client that vanishes after its first megabyte."""

        def __init__(self) -> None:
            self.sent = 0

        def read(self, size: int) -> bytes:
            self.sent += 1
            if self.sent > 1:
                raise ConnectionResetError("client gone")
            return b"x" * size

    store = FileStore(tmp_path / "files")
    with pytest.raises(ConnectionResetError):
        store.write("file-1", Failing(), max_bytes=1 << 30)
    assert list(store.root.iterdir()) == []


def test_the_start_sweeps_what_a_killed_server_left(server_settings, training_jsonl: Path, tmp_path: Path) -> None:
    """A server killed while copying an upload leaves its temporary file; one killed between naming a file and
    recording it leaves a file without a row; parts of an upload that expired stay on disk. The next start
    removes all three and keeps what is recorded."""
    from datetime import timedelta

    from caretune.storage.db import make_engine, session_factory
    from caretune.storage.uploads import Upload

    settings = server_settings.model_copy(update={"port": free_port(), "data_dir": tmp_path / "server",
                                                  "run_worker": False})
    key = new_key(settings)
    with running_server(settings) as url:
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        kept = client.files.create(file=training_jsonl.open("rb"), purpose="fine-tune").id
        pending = client.uploads.create(bytes=10, filename="a.jsonl", mime_type="text/jsonl", purpose="fine-tune")
        expired = client.uploads.create(bytes=10, filename="b.jsonl", mime_type="text/jsonl", purpose="fine-tune")
        pending_part = client.uploads.parts.create(pending.id, data=b"x" * 5).id
        client.uploads.parts.create(expired.id, data=b"x" * 5)
    files, uploads = settings.data_dir / "files", settings.data_dir / "uploads"
    (files / "file-abc.partial").write_bytes(b"half a file")
    (files / "file-norow").write_bytes(b"a whole file, never recorded")
    (uploads / pending.id / "part_x.partial").write_bytes(b"half a part")
    db = make_engine(settings.resolved_database_url())
    with session_factory(db)() as session:
        row = session.get(Upload, expired.id)
        row.expires_at = row.created_at - timedelta(seconds=1)
        session.commit()
    db.dispose()
    with running_server(settings.model_copy(update={"port": free_port()})) as url:
        assert {p.name for p in files.iterdir()} == {kept}
        assert {p.name for p in uploads.iterdir()} == {pending.id}
        assert {p.name for p in (uploads / pending.id).iterdir()} == {pending_part}
        client = openai.OpenAI(base_url=url, api_key=key, max_retries=0)
        assert client.files.content(kept).content == training_jsonl.read_bytes()
