"""``POST /v1/completions``, and ``POST /v1/engines/{engine}/completions`` as the openai 0.x SDK sends it."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from caretune.server.auth import require_api_key
from caretune.server.dependencies import get_state
from caretune.server.protocol.completions import CompletionRequest, CompletionResponse, EngineCompletionRequest
from caretune.server.serving_completions import create_completion
from caretune.server.state import ServerState

router = APIRouter(prefix="/v1", tags=["completions"], dependencies=[Depends(require_api_key)])


@router.post(
    "/completions",
    response_model=CompletionResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def completions(
    request: CompletionRequest, state: ServerState = Depends(get_state)
) -> CompletionResponse | StreamingResponse:
    """Complete one or more prompts (OpenAI's legacy completions API, which the fine-tuned models speak)."""
    return await create_completion(state, request)


@router.post(
    "/engines/{engine:path}/completions",
    response_model=CompletionResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def engine_completions(
    engine: str, request: EngineCompletionRequest, state: ServerState = Depends(get_state)
) -> CompletionResponse | StreamingResponse:
    """The same completions, the model named by the path (``Completion.create(engine=...)`` of the 0.x SDK)."""
    return await create_completion(state, request.for_engine(engine))
