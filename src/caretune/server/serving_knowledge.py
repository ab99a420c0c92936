"""The knowledge API's logic: the server's knowledge bases (one directory each under ``data_dir/knowledge``),
their documents, a search to try them, and which passages answers use most."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from caretune.errors import InputError
from caretune.knowledge import KnowledgeBase, forget_opened, open_knowledge, search
from caretune.knowledge.documents import SUFFIXES, read_document
from caretune.server.errors import InvalidRequest, NotFound
from caretune.server.protocol.knowledge import KnowledgeBaseObject, PassageObject
from caretune.server.state import ServerState


def base_path(state: ServerState, name: str) -> Path:
    return state.settings.knowledge_dir / name


def get_base(state: ServerState, name: str) -> KnowledgeBase:
    """The server's knowledge base ``name``, or a 404 naming it."""
    path = base_path(state, name)
    if not KnowledgeBase.exists(path):
        raise NotFound(f"No knowledge base named '{name}'", param="knowledge_base", code="knowledge_base_not_found")
    return open_knowledge(path)


def to_object(kb: KnowledgeBase) -> KnowledgeBaseObject:
    documents = kb.documents()
    return KnowledgeBaseObject(id=kb.name, documents=len(documents), chunks=sum(d.chunks for d in documents))


def list_bases(state: ServerState) -> list[KnowledgeBaseObject]:
    """Every knowledge base of this server, by name."""
    root = state.settings.knowledge_dir
    names = sorted(p.name for p in root.iterdir() if KnowledgeBase.exists(p)) if root.is_dir() else []
    return [to_object(open_knowledge(root / name)) for name in names]


def create_base(state: ServerState, name: str) -> KnowledgeBase:
    """A new, empty knowledge base; 400 if the name is taken."""
    path = base_path(state, name)
    if KnowledgeBase.exists(path):
        raise InvalidRequest(f"A knowledge base named '{name}' exists already", param="name")
    KnowledgeBase(path, create=True)
    return open_knowledge(path)


def delete_base(state: ServerState, name: str) -> None:
    get_base(state, name)
    forget_opened()
    shutil.rmtree(base_path(state, name))


def add_upload(kb: KnowledgeBase, source: BinaryIO, filename: str):
    """Index an uploaded document under its file name (its type is its suffix)."""
    name = Path(filename).name
    if Path(name).suffix.lower() not in SUFFIXES:
        raise InvalidRequest(f"file: a knowledge document is one of {', '.join(SUFFIXES)}", param="file")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        with path.open("wb") as out:
            shutil.copyfileobj(source, out)
        try:
            document = read_document(path)
        except InputError as exc:
            raise InvalidRequest(f"file: {exc.reason}", param="file") from exc
    return kb.add_documents([document.model_copy(update={"source": name})])


def remove_document(kb: KnowledgeBase, source: str) -> None:
    if not kb.remove(source):
        raise NotFound(f"No document '{source}' in knowledge base '{kb.name}'", param="source")


def search_base(kb: KnowledgeBase, query: str, k: int) -> list[PassageObject]:
    return [PassageObject(**p.model_dump()) for p in search(kb, query, k)]
