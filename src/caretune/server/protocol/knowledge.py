"""``/v1/knowledge``: the knowledge bases this server's models answer from (a caretune extension)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from caretune.knowledge.store import AddResult, DocumentInfo
from caretune.server.protocol.common import Request

# A name is a directory under the server's data dir: no path separators, no leading dot.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class KnowledgeBaseCreate(Request):
    name: str = Field(pattern=NAME_PATTERN)


class KnowledgeBaseObject(BaseModel):
    id: str
    object: Literal["knowledge_base"] = "knowledge_base"
    documents: int
    chunks: int


class KnowledgeBaseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[KnowledgeBaseObject]


class KnowledgeDocumentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[DocumentInfo]


class KnowledgeAdded(AddResult):
    object: Literal["knowledge_base.documents.added"] = "knowledge_base.documents.added"


class KnowledgeSearch(Request):
    query: str = Field(min_length=1, max_length=10_000)
    k: int = Field(3, ge=1, le=20)


class PassageObject(BaseModel):
    id: str
    title: str
    text: str
    source: str
    kind: str
    score: float


class PassageList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PassageObject]


class PassageUseObject(BaseModel):
    id: str
    title: str
    source: str
    uses: int


class PassageUseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PassageUseObject]


class Deleted(BaseModel):
    id: str
    object: Literal["knowledge_base.deleted", "knowledge_base.document.deleted"]
    deleted: bool = True
