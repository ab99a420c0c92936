"""``/v1/knowledge``: create and fill knowledge bases, try a search, see which passages answers use."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, UploadFile
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from caretune.server import serving_knowledge as service
from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_session, get_state
from caretune.server.protocol.knowledge import (
    Deleted,
    KnowledgeAdded,
    KnowledgeBaseCreate,
    KnowledgeBaseList,
    KnowledgeBaseObject,
    KnowledgeDocumentList,
    NAME_PATTERN,
    KnowledgeSearch,
    PassageList,
    PassageUseList,
    PassageUseObject,
)
from caretune.server.roles import Permission
from caretune.server.state import ServerState
from caretune.storage.passage_uses import most_used

Name = Annotated[str, Path(pattern=NAME_PATTERN, description="A knowledge base of this server.")]
Writer = Annotated[Caller, Depends(requires(Permission.KNOWLEDGE_WRITE))]

router = APIRouter(
    prefix="/v1/knowledge", tags=["knowledge"], dependencies=[Depends(requires(Permission.KNOWLEDGE_READ))]
)


def _audit(state: ServerState, caller: Caller, action: str, target: str, **detail: object) -> None:
    with state.sessions() as session:
        caller.audit(session, action, target, **detail)


@router.get("", response_model=KnowledgeBaseList)
def list_bases(state: ServerState = Depends(get_state)) -> KnowledgeBaseList:
    """This server's knowledge bases."""
    return KnowledgeBaseList(data=service.list_bases(state))


@router.post("", response_model=KnowledgeBaseObject)
def create_base(
    body: KnowledgeBaseCreate, caller: Writer, state: ServerState = Depends(get_state)
) -> KnowledgeBaseObject:
    """A new, empty knowledge base (serve a model with it: ``caretune serve --knowledge MODEL=NAME``)."""
    created = service.to_object(service.create_base(state, body.name))
    _audit(state, caller, "knowledge.created", body.name)
    return created


@router.get("/uses", response_model=PassageUseList)
def passage_uses(
    limit: int = Query(20, ge=1, le=100), session: Session = Depends(get_session)
) -> PassageUseList:
    """The passages given to the most answers, most first."""
    rows = most_used(session, limit)
    return PassageUseList(data=[PassageUseObject(id=r.passage_id, title=r.title, source=r.source, uses=r.uses) for r in rows])


@router.get("/{name}", response_model=KnowledgeBaseObject)
def get_base(name: Name, state: ServerState = Depends(get_state)) -> KnowledgeBaseObject:
    return service.to_object(service.get_base(state, name))


@router.delete("/{name}", response_model=Deleted)
def delete_base(name: Name, caller: Writer, state: ServerState = Depends(get_state)) -> Deleted:
    service.delete_base(state, name)
    _audit(state, caller, "knowledge.deleted", name)
    return Deleted(id=name, object="knowledge_base.deleted")


@router.get("/{name}/documents", response_model=KnowledgeDocumentList)
def list_documents(name: Name, state: ServerState = Depends(get_state)) -> KnowledgeDocumentList:
    """The base's documents, in the order they were added."""
    return KnowledgeDocumentList(data=service.get_base(state, name).documents())


@router.post("/{name}/documents", response_model=KnowledgeAdded)
async def add_document(
    name: Name, caller: Writer, file: UploadFile = File(...), state: ServerState = Depends(get_state)
) -> KnowledgeAdded:
    """Index an uploaded document (Markdown, text, HTML, FAQ CSV/JSONL, chat JSONL); re-sending an unchanged
    file does nothing, an edited one replaces its chunks."""
    kb = service.get_base(state, name)
    result = await run_in_threadpool(service.add_upload, kb, file.file, file.filename or "upload.md")
    await run_in_threadpool(_audit, state, caller, "knowledge.document_added", name, document=file.filename,
                            chunks=result.chunks)
    return KnowledgeAdded(**result.model_dump())


@router.delete("/{name}/documents/{source:path}", response_model=Deleted)
def remove_document(name: Name, source: str, caller: Writer, state: ServerState = Depends(get_state)) -> Deleted:
    service.remove_document(service.get_base(state, name), source)
    _audit(state, caller, "knowledge.document_removed", name, document=source)
    return Deleted(id=source, object="knowledge_base.document.deleted")


@router.post("/{name}/search", response_model=PassageList)
def search(name: Name, body: KnowledgeSearch, state: ServerState = Depends(get_state)) -> PassageList:
    """The passages an answer to ``query`` would be given."""
    return PassageList(data=service.search_base(service.get_base(state, name), body.query, body.k))
