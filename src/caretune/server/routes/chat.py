"""``POST /v1/chat/completions``."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from caretune.server.auth import Caller, requires
from caretune.server.dependencies import get_state
from caretune.server.roles import Permission
from caretune.server.protocol.chat import ChatCompletionRequest, ChatCompletionResponse
from caretune.server.serving_chat import create_chat_completion
from caretune.server.state import ServerState

_INFERENCE = requires(Permission.INFERENCE, spends_tokens=True)
router = APIRouter(prefix="/v1", tags=["chat"], dependencies=[Depends(_INFERENCE)])


@router.post(
    "/chat/completions",
    response_model=ChatCompletionResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "JSON, or SSE when stream is true"}},
)
async def chat_completions(
    request: ChatCompletionRequest, state: ServerState = Depends(get_state), caller: Caller = Depends(_INFERENCE)
) -> ChatCompletionResponse | StreamingResponse:
    """The next agent message of a conversation."""
    return await create_chat_completion(state, request, caller)
