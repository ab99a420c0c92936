"""``/v1/models``: the models this server answers for."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelCard(BaseModel):
    """``GET /v1/models`` entries."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    root: str = Field(description="The model that answers for this id: an alias's target, else the id itself.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ModelDeleted(BaseModel):
    id: str
    object: Literal["model"] = "model"
    deleted: bool
