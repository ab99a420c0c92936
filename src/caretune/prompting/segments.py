"""A conversation as a list of text segments, each either context or trained text.

Rendering for serving and tokenizing for training both start from these segments, so the two cannot drift
apart: serving joins the texts, training tokenizes each segment on its own (a segment boundary is then a
token boundary, exactly where generation starts at serving time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from caretune.data.schema import ChatMessage
from caretune.errors import CaretuneError
from caretune.runs.prompt_format import PromptFormat

Messages = Sequence[Mapping | ChatMessage]


@dataclass(frozen=True)
class Segment:
    """A piece of the rendered conversation; ``trained`` pieces carry labels, the others are context."""

    text: str
    trained: bool = False


def as_messages(messages: Messages) -> list[ChatMessage]:
    """Accept dicts (as read from JSONL or an API request) or parsed messages alike."""
    return [m if isinstance(m, ChatMessage) else ChatMessage.model_validate(m) for m in messages]


def conversation_segments(messages: Messages, fmt: PromptFormat, tokenizer) -> list[Segment]:
    """Segments of a whole conversation, up to and including its last agent turn."""
    msgs = as_messages(messages)
    if fmt.kind == "chat_template":
        return _template_segments(msgs, tokenizer)
    return list(_plain_segments(msgs, fmt, _eos_text(tokenizer)))


def completion_segments(prompt: str, completion: str, tokenizer) -> list[Segment]:
    """A legacy prompt/completion example: the prompt as it is, then the completion and the end-of-turn
    marker, trained, so that the fine-tune stops where the completion did."""
    return [Segment(prompt), Segment(completion + _eos_text(tokenizer), trained=True)]


def render_prompt(messages: Messages, fmt: PromptFormat, tokenizer) -> str:
    """The text before the next agent turn, ending with the generation prompt (``Agent:`` in the plain format).

    Encode it with the tokenizer's special tokens on (HF: the default; llama.cpp: ``add_bos=True,
    special=True``): earlier agent turns end with the EOS token's text, which must encode to the EOS id.
    """
    msgs = as_messages(messages)
    if fmt.kind == "chat_template":
        return _render_template(msgs, tokenizer, add_generation_prompt=True)
    body = "".join(s.text for s in _plain_segments(msgs, fmt, _eos_text(tokenizer), trailing=True))
    return body + fmt.assistant_prefix


def _plain_segments(
    msgs: list[ChatMessage], fmt: PromptFormat, eos: str, trailing: bool = False
) -> Iterable[Segment]:
    """``system\\n\\nCustomer: u\\nAgent: a<eos>\\n...``; the agent's `` a<eos>`` is the trained part.

    ``trailing`` keeps the newline after the last agent turn (a prompt continues after it; training stops).
    An agent turn is rendered stripped, as training data is: a served reply starts with the space the model
    generates after ``Agent:``; sent back as history it would otherwise read ``Agent:  a``, which the model
    then imitates, and it would not match the tokens the llama.cpp engine's prompt cache holds for it.
    """
    last_agent = max((i for i, m in enumerate(msgs) if m.role == "assistant"), default=-1)
    for i, m in enumerate(msgs):
        if m.role == "system":
            yield Segment(m.content + "\n\n")
        elif m.role == "user":
            yield Segment(f"{fmt.user_prefix} {m.content}\n")
        else:
            yield Segment(fmt.assistant_prefix)
            yield Segment(f" {m.content.strip()}{eos}", trained=m.weight != 0)
            if trailing or i < last_agent:
                yield Segment("\n")


def _template_segments(msgs: list[ChatMessage], tokenizer) -> list[Segment]:
    """Split the template's render at each agent turn by diffing the render with and without that turn."""
    segments: list[Segment] = []
    done = ""
    for i, m in enumerate(msgs):
        if m.role != "assistant":
            continue
        prompt = _render_template(msgs[:i], tokenizer, add_generation_prompt=True)
        full = _render_template(msgs[: i + 1], tokenizer, add_generation_prompt=False)
        if not (prompt.startswith(done) and full.startswith(prompt)):
            raise CaretuneError("the tokenizer's chat template does not append turns; use the plain format")
        segments += [Segment(prompt[len(done) :]), Segment(full[len(prompt) :], trained=m.weight != 0)]
        done = full
    return segments


def _render_template(msgs: list[ChatMessage], tokenizer, add_generation_prompt: bool) -> str:
    """The template's text without a leading BOS: the tokenizer adds BOS itself when it encodes."""
    text = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in msgs],
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
    )
    bos = tokenizer.bos_token or ""
    return text[len(bos) :] if bos and text.startswith(bos) else text


def _eos_text(tokenizer) -> str:
    """The end-of-turn marker: the EOS token's text, which encodes back to the EOS id."""
    if not tokenizer.eos_token:
        raise CaretuneError("the tokenizer has no EOS token, which the plain prompt format needs as end of turn")
    return tokenizer.eos_token
