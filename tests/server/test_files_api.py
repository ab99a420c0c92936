"""``/v1/files`` through the official SDK: upload (validated), list, retrieve, content, delete; limits."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import openai
import pytest


def test_upload_list_retrieve_content_delete(client, training_jsonl: Path, server_settings) -> None:
    uploaded = client.files.create(file=training_jsonl.open("rb"), purpose="fine-tune")
    assert uploaded.object == "file" and uploaded.purpose == "fine-tune"
    assert uploaded.bytes == training_jsonl.stat().st_size
    assert uploaded.filename == "train.jsonl"
    assert uploaded.id in [f.id for f in client.files.list().data]
    assert client.files.retrieve(uploaded.id).bytes == uploaded.bytes
    assert client.files.content(uploaded.id).read() == training_jsonl.read_bytes()
    stored = server_settings.data_dir / "files" / uploaded.id
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == hashlib.sha256(training_jsonl.read_bytes()).hexdigest()
    assert client.files.delete(uploaded.id).deleted
    assert not stored.exists()
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_invalid_training_file_is_rejected_with_findings(client, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\nnot json\n', encoding="utf-8")
    before = {f.id for f in client.files.list().data}
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=bad.open("rb"), purpose="fine-tune")
    assert info.value.body["param"] == "file"
    assert "line 2" in info.value.body["message"]
    assert {f.id for f in client.files.list().data} == before


def test_unknown_purpose_is_400(client, training_jsonl: Path) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.files.create(file=training_jsonl.open("rb"), purpose="batch")
    assert info.value.body["param"] == "purpose"


def test_upload_over_the_limit_is_413(client, tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(b"x" * (1 << 20 + 1))  # the test server's limit is 1 MB
    with pytest.raises(openai.APIStatusError) as info:
        client.files.create(file=big.open("rb"), purpose="fine-tune")
    assert info.value.status_code == 413


def test_unknown_file_is_404_everywhere(client, base_url: str, api_key: str) -> None:
    with pytest.raises(openai.NotFoundError):
        client.files.content("file-nope")
    with pytest.raises(openai.NotFoundError):
        client.files.delete("file-nope")
    response = httpx.get(f"{base_url}/files/file-nope", headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "file_not_found"
