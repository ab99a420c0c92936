"""``/v1/models``: list, describe and delete (fine-tunes only) models."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from caretune.server.auth import Caller, requires
from caretune.server.catalog import ServedModel
from caretune.server.dependencies import get_state
from caretune.server.errors import NotFound
from caretune.server.protocol.models import ModelCard, ModelDeleted, ModelList
from caretune.server.roles import Permission
from caretune.server.state import ServerState

_READ = requires(Permission.MODELS_READ)
router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[Depends(_READ)])


def _card(model: ServedModel, model_id: str | None = None) -> ModelCard:
    """``model``'s card, under ``model_id`` when that is an alias of it."""
    return ModelCard(id=model_id or model.id, created=model.created, owned_by=model.owned_by, root=model.id)


def _alias_cards(state: ServerState) -> list[ModelCard]:
    """A card per alias whose model exists (an alias may name a fine-tune still training)."""
    cards = []
    for alias in state.catalog.aliases():
        try:
            cards.append(_card(state.catalog.get(alias), alias))
        except NotFound:
            continue
    return cards


@router.get("", response_model=ModelList)
def list_models(state: ServerState = Depends(get_state), caller: Caller = Depends(_READ)) -> ModelList:
    """Base models, every succeeded fine-tune, then the aliases (``root`` names the model each points to);
    for an app key held to some models, only those."""
    cards = [_card(m) for m in state.catalog.all()] + _alias_cards(state)
    return ModelList(data=[card for card in cards if caller.may_use(card.id, card.root)])


@router.get("/{model_id:path}", response_model=ModelCard)
def get_model(model_id: str, state: ServerState = Depends(get_state), caller: Caller = Depends(_READ)) -> ModelCard:
    """One model (ids of fine-tunes contain colons; base names may contain slashes); an alias's card has the
    alias as ``id`` and its model as ``root``."""
    return _card(caller.served_model(state.catalog, model_id), model_id)


@router.delete("/{model_id:path}", response_model=ModelDeleted)
def delete_model(
    model_id: str,
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(requires(Permission.MODELS_DELETE)),
) -> ModelDeleted:
    """Delete a fine-tuned model (base models cannot be deleted); requests still using it finish normally."""
    state.catalog.delete(model_id)
    state.engines.evict(model_id)
    with state.sessions() as session:
        caller.audit(session, "model.deleted", model_id)
    return ModelDeleted(id=model_id, deleted=True)
