"""The Uploads API with the current openai SDK: a training file sent in parts becomes one validated file."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openai
import pytest


def _parts(data: bytes, n: int) -> list[bytes]:
    size = -(-len(data) // n)
    return [data[i : i + size] for i in range(0, len(data), size)]


def _upload(client, data: bytes, **overrides):
    request = {"bytes": len(data), "filename": "support.jsonl", "mime_type": "text/jsonl", "purpose": "fine-tune"}
    return client.uploads.create(**{**request, **overrides})


def test_parts_sent_out_of_order_are_joined_in_the_order_named(client, training_jsonl: Path) -> None:
    data = training_jsonl.read_bytes()
    upload = _upload(client, data)
    assert upload.status == "pending" and upload.object == "upload" and upload.expires_at > upload.created_at
    first, second, third = _parts(data, 3)
    ids = {}
    for name, part in (("third", third), ("first", first), ("second", second)):
        created = client.uploads.parts.create(upload.id, data=part)
        assert created.object == "upload.part" and created.upload_id == upload.id
        ids[name] = created.id
    order = [ids["first"], ids["second"], ids["third"]]
    done = client.uploads.complete(upload.id, part_ids=order, md5=hashlib.md5(data).hexdigest())
    assert done.status == "completed" and done.file.filename == "support.jsonl" and done.file.bytes == len(data)
    assert client.files.content(done.file.id).content == data
    assert client.files.retrieve(done.file.id).purpose == "fine-tune"
    with pytest.raises(openai.BadRequestError, match="completed"):
        client.uploads.parts.create(upload.id, data=first)


def test_the_parts_must_add_up(client, training_jsonl: Path) -> None:
    data = training_jsonl.read_bytes()
    upload = _upload(client, data)
    first, second = _parts(data, 2)
    part = client.uploads.parts.create(upload.id, data=first).id
    with pytest.raises(openai.BadRequestError, match="announced") as info:
        client.uploads.complete(upload.id, part_ids=[part])
    assert info.value.body["param"] == "part_ids"
    with pytest.raises(openai.BadRequestError, match="more than once"):
        client.uploads.complete(upload.id, part_ids=[part, part])
    with pytest.raises(openai.BadRequestError, match="not a part"):
        client.uploads.complete(upload.id, part_ids=[part, "part_nope"])
    with pytest.raises(openai.APIStatusError, match="exceed") as too_big:
        client.uploads.parts.create(upload.id, data=second + b"\n")
    assert too_big.value.status_code == 413
    last = client.uploads.parts.create(upload.id, data=second).id
    with pytest.raises(openai.BadRequestError, match="MD5") as info:
        client.uploads.complete(upload.id, part_ids=[part, last], md5="0" * 32)
    assert info.value.body["param"] == "md5"
    assert client.uploads.complete(upload.id, part_ids=[part, last]).status == "completed"


def test_an_assembled_file_is_validated_like_any_upload(client) -> None:
    data = b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 3
    upload = _upload(client, data)
    part = client.uploads.parts.create(upload.id, data=data).id
    with pytest.raises(openai.BadRequestError, match="Invalid file format for fine-tuning") as info:
        client.uploads.complete(upload.id, part_ids=[part])
    assert info.value.body["code"] == "invalid_file_format"
    cancelled = client.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled" and cancelled.file is None
    with pytest.raises(openai.BadRequestError, match="cancelled"):
        client.uploads.cancel(upload.id)


def test_bad_uploads(client) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        _upload(client, b"x", purpose="assistants")
    assert info.value.body["param"] == "purpose"
    with pytest.raises(openai.BadRequestError) as info:
        _upload(client, b"", bytes=0)
    assert info.value.body["param"] == "bytes"
    with pytest.raises(openai.NotFoundError):
        client.uploads.parts.create("upload_nope", data=b"x")
    with pytest.raises(openai.NotFoundError):
        client.uploads.complete("upload_nope", part_ids=["part_x"])


def test_an_upload_expires_after_an_hour(client, server_settings) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from caretune.storage.db import make_engine, session_factory, utcnow
    from caretune.storage.uploads import Upload

    upload = _upload(client, b"x")
    assert upload.expires_at - upload.created_at == 3600
    db = make_engine(server_settings.resolved_database_url())
    with session_factory(db)() as session:
        session.execute(update(Upload).where(Upload.id == upload.id).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    db.dispose()
    with pytest.raises(openai.BadRequestError, match="expired"):
        client.uploads.parts.create(upload.id, data=b"x")
