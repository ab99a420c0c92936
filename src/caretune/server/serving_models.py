"""Deleting a fine-tuned model: it disappears from the listing and from memory; its job keeps its history."""

from __future__ import annotations

from sqlalchemy import update

from caretune.server.errors import Forbidden
from caretune.server.state import ServerState
from caretune.storage.jobs import Job


def delete_fine_tune(state: ServerState, model_id: str) -> None:
    """Mark the fine-tune deleted (404 if unknown, 403 for a base model) and drop its engine."""
    model = state.catalog.get(model_id)
    if not model.fine_tuned:
        raise Forbidden(f"The model '{model_id}' is a base model and cannot be deleted", param="model")
    with state.sessions() as session:
        session.execute(update(Job).where(Job.fine_tuned_model == model_id).values(model_deleted=True))
        session.commit()
    state.engines.evict(model_id)
