"""Checks on one example at a time, for both formats: the shape (via the pydantic schema) and the content.

These are the checks of OpenAI's chat-format validator (missing keys, unknown roles, no assistant message,
empty content) and of its legacy ``prepare_data`` tool (empty prompt or completion, completion not starting
with a space), plus caretune's own (``weight`` only on assistant turns, at least one trained turn).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

from caretune.data.schema import ChatExample, LegacyExample
from caretune.data.validate.findings import Finding, error, warning

Format = Literal["chat", "completion"]

# Keys OpenAI's chat format defines on a message; anything else is most likely a typo ("contnet").
KNOWN_MESSAGE_KEYS = frozenset({"role", "content", "weight", "name", "tool_calls", "tool_call_id", "function_call"})
# A wrong value is quoted in the finding, cut to this length: a whole conversation would drown the message.
_LONGEST_SHOWN = 60


def detect_format(data: dict) -> Format | None:
    """Which format a record is in, judged by its keys; ``None`` if it is in neither."""
    if "messages" in data:
        return "chat"
    if "prompt" in data or "completion" in data:
        return "completion"
    return None


def parse_example(line: int, data: dict, fmt: Format) -> ChatExample | LegacyExample | list[Finding]:
    """The record as a schema object, or one error per invalid field (named as a path, e.g. ``messages[2].role``)."""
    model = ChatExample if fmt == "chat" else LegacyExample
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        return [_field_error(line, err) for err in exc.errors()]


def _field_error(line: int, err: dict) -> Finding:
    """One pydantic error as a finding; a bad role gets its own code, being the most common mistake."""
    where = _field_path(err["loc"])
    code = "invalid_role" if err["loc"][-1:] == ("role",) and err["type"] != "missing" else "invalid_field"
    shown = repr(err["input"])
    shown = shown if len(shown) <= _LONGEST_SHOWN else shown[: _LONGEST_SHOWN - 3] + "..."
    got = f" (got {shown})" if err["type"] != "missing" else ""
    return error(line, code, f"{where}: {err['msg']}{got}")


def _field_path(loc: tuple) -> str:
    """``("messages", 2, "role")`` -> ``messages[2].role``, the way a reader of the JSON would point at it."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "example"


def check_chat(line: int, example: ChatExample) -> list[Finding]:
    """Content checks on a well-formed chat example."""
    findings: list[Finding] = []
    for i, msg in enumerate(example.messages):
        findings += _check_message(line, i, msg.model_dump(exclude_unset=True))
    assistants = [m for m in example.messages if m.role == "assistant"]
    if not assistants:
        findings.append(error(line, "no_assistant", "no assistant message: there is nothing to learn"))
    elif all(m.weight == 0 for m in assistants):
        findings.append(error(line, "no_trained_turn", "every assistant message has weight 0: nothing is trained"))
    return findings


def _check_message(line: int, i: int, msg: dict) -> list[Finding]:
    """Empty or padded content, ``weight`` where it means nothing, unknown keys."""
    findings: list[Finding] = []
    where = f"messages[{i}]"
    content = msg["content"]
    if not content.strip():
        findings.append(error(line, "empty_content", f"{where}.content is empty or only whitespace"))
    elif content != content.strip():
        findings.append(warning(line, "whitespace", f"{where}.content has leading or trailing whitespace"))
    if msg.get("weight") is not None and msg["role"] != "assistant":
        findings.append(error(line, "weight_not_assistant", f"{where}: weight is only allowed on assistant messages"))
    for key in sorted(set(msg) - KNOWN_MESSAGE_KEYS):
        findings.append(warning(line, "unknown_key", f"{where}: unknown key {key!r}"))
    return findings


def check_legacy(line: int, example: LegacyExample) -> list[Finding]:
    """Content checks on a well-formed prompt/completion example (the file-wide ones are in validate_legacy)."""
    findings: list[Finding] = []
    for field in ("prompt", "completion"):
        if not getattr(example, field).strip():
            findings.append(error(line, "empty_content", f"{field} is empty or only whitespace"))
    if example.completion.strip() and not example.completion[:1].isspace():
        findings.append(
            warning(line, "completion_no_space", "completion should start with a space (it tokenizes better)")
        )
    return findings


def turns_of(example: ChatExample | LegacyExample) -> list[tuple[str, str]]:
    """The example's text as (role, content) pairs, the view the duplicate and length checks need."""
    if isinstance(example, ChatExample):
        return [(m.role, m.content) for m in example.messages]
    return [("prompt", example.prompt), ("completion", example.completion)]
