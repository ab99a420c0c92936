"""``POST /v1/chat/completions``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from caretune.server.auth import require_api_key
from caretune.server.dependencies import get_state
from caretune.server.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from caretune.server.serving_chat import create_chat_completion
from caretune.server.state import ServerState

router = APIRouter(prefix="/v1", tags=["chat"], dependencies=[Depends(require_api_key)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def chat_completions(
    request: ChatCompletionRequest, state: ServerState = Depends(get_state)
) -> ChatCompletionResponse | StreamingResponse:
    """The next agent message of a conversation."""
    return await create_chat_completion(state, request)
