"""``/v1/models``: list, describe and delete (fine-tunes only) models."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from caretune.server.auth import require_api_key
from caretune.server.catalog import ServedModel
from caretune.server.dependencies import get_state
from caretune.server.protocol.models import ModelCard, ModelDeleted, ModelList
from caretune.server.state import ServerState

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(require_api_key)])


def _card(model: ServedModel) -> ModelCard:
    return ModelCard(id=model.id, created=model.created, owned_by=model.owned_by)


@router.get("", response_model=ModelList)
def list_models(state: ServerState = Depends(get_state)) -> ModelList:
    """Base models and every succeeded fine-tune."""
    return ModelList(data=[_card(m) for m in state.catalog.all()])


@router.get("/{model_id:path}", response_model=ModelCard)
def get_model(model_id: str, state: ServerState = Depends(get_state)) -> ModelCard:
    """One model (ids of fine-tunes contain colons; base names may contain slashes)."""
    return _card(state.catalog.get(model_id))


@router.delete("/{model_id:path}", response_model=ModelDeleted)
def delete_model(model_id: str, state: ServerState = Depends(get_state)) -> ModelDeleted:
    """Delete a fine-tuned model (base models cannot be deleted); requests still using it finish normally."""
    state.catalog.delete(model_id)
    state.engines.evict(model_id)
    return ModelDeleted(id=model_id, deleted=True)
