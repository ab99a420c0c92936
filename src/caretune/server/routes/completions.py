"""``POST /v1/completions``, and ``POST /v1/engines/{engine}/completions`` as the openai 0.x SDK sends it."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_state
from caretune.server.roles import Permission
from caretune.server.protocol.completions import CompletionRequest, CompletionResponse, EngineCompletionRequest
from caretune.server.serving_completions import create_completion
from caretune.server.state import ServerState

_INFERENCE = requires(Permission.INFERENCE, spends_tokens=True)
router = APIRouter(prefix="/v1", tags=["completions"], dependencies=[Depends(_INFERENCE)])


@router.post(
    "/completions",
    response_model=CompletionResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def completions(
    request: CompletionRequest, state: ServerState = Depends(get_state), caller: Caller = Depends(_INFERENCE)
) -> CompletionResponse | StreamingResponse:
    """Complete one or more prompts (OpenAI's legacy completions API, which the fine-tuned models speak)."""
    return await create_completion(state, request, caller)


@router.post(
    "/engines/{engine:path}/completions",
    response_model=CompletionResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def engine_completions(
    engine: str,
    request: EngineCompletionRequest,
    state: ServerState = Depends(get_state),
    caller: Caller = Depends(_INFERENCE),
) -> CompletionResponse | StreamingResponse:
    """The same completions, the model named by the path (``Completion.create(engine=...)`` of the 0.x SDK)."""
    return await create_completion(state, request.for_engine(engine), caller)
