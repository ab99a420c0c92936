"""The reference engine: any Hugging Face causal LM (a base, a run's LoRA merged in, a tiny test model).

Slow on CPU next to llama.cpp, but it runs every architecture transformers knows and defines what correct
output is: the llama.cpp engine is tested for parity against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from caretune.engines.base import Engine, Prompt, StreamEvent, Usage
from caretune.engines.params import SamplingParams
from caretune.engines.candidate import Candidate
from caretune.prompting.chat import load_prompting
from caretune.runs.refs import ModelRef
from caretune.errors import CaretuneError

# Decoding a few prompt tokens with the first generated one keeps tokenizers that strip a leading space
# from the first token of a decode (SentencePiece) from eating the space that starts the reply.
_DETOKENIZE_CONTEXT = 4

# End-of-turn tokens of common chat templates (Gemma, Llama 3, ChatML, Phi).
_END_OF_TURN = ("<end_of_turn>", "<|eot_id|>", "<|im_end|>", "<|end|>")


class HFDetokenizer:
    """Incremental decoding by re-decoding a short window, holding back an incomplete UTF-8 character."""

    def __init__(self, tokenizer, prompt_ids: list[int]) -> None:
        self._tokenizer = tokenizer
        self._ids = list(prompt_ids[-_DETOKENIZE_CONTEXT:])
        self._prefix = 0
        self._read = len(self._ids)

    def push(self, token: int) -> str:
        """The new text that `token` completes ("" while a character is still partial)."""
        self._ids.append(token)
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        if len(after) <= len(before) or after.endswith("\ufffd"):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return after[len(before) :]

    def flush(self) -> str:
        """Whatever is left undecoded at the end (an incomplete character shows as U+FFFD)."""
        before = self._decode(self._ids[self._prefix : self._read])
        after = self._decode(self._ids[self._prefix :])
        self._prefix = self._read = len(self._ids)
        return after[len(before) :]

    def _decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True) if ids else ""


class HFVocab:
    """Token facts for `Candidate`, from the Hugging Face tokenizer and the model's generation config."""

    def __init__(self, tokenizer, eos_ids: set[int]) -> None:
        self._tokenizer = tokenizer
        self._eos = eos_ids

    def token_text(self, token: int) -> str:
        return self._tokenizer.decode([token])

    def is_eog(self, token: int) -> bool:
        return token in self._eos

    def detokenizer(self, prompt_ids: list[int]) -> HFDetokenizer:
        return HFDetokenizer(self._tokenizer, prompt_ids)


class TransformersEngine(Engine):
    """Generates with a transformers model on CPU in float32 (exact reference for parity tests)."""

    def __init__(self, ref: ModelRef, n_threads: int | None = None) -> None:
        import torch

        if n_threads is not None:
            # torch's default, a thread per core, loses on a busy machine: every small kernel of a decode
            # step waits at a barrier for a thread the OS has preempted. The setting is process-wide in
            # torch, so it is opt-in.
            torch.set_num_threads(n_threads)
        super().__init__()
        self.model_id = ref.model_id
        hf_dir = _weights_dir(ref)
        self.prompting = load_prompting(ref)
        self._tokenizer = self.prompting.tokenizer
        self._model = _load_model(hf_dir, ref.adapter_dir, torch.float32)
        config = self._model.config
        self.context_length = int(getattr(config, "max_position_embeddings", 2048))
        self.vocab_size = self._model.get_input_embeddings().num_embeddings
        self._vocab = HFVocab(self._tokenizer, _eos_ids(self._model, self._tokenizer))

    def tokenize(self, text: str) -> list[int]:
        return list(self._tokenizer(text, add_special_tokens=True)["input_ids"])

    def detokenize(self, ids: list[int]) -> str:
        return self._tokenizer.decode(ids, skip_special_tokens=True)

    def _generate(self, prompt: Prompt, params: SamplingParams) -> Iterator[StreamEvent]:
        """Candidates one after another; each its own KV cache, so concurrent callers share nothing mutable."""
        ids = self.prompt_ids(prompt)
        text = self.prompt_text(prompt, ids)
        budget = self.budget(len(ids), params.max_tokens)
        generated = 0
        for index in range(params.candidates):
            candidate = Candidate(index, params, self._vocab, budget, score=params.candidates > params.n)
            yield from self._run(candidate, text, ids)
            generated += candidate.generated
        yield StreamEvent(index=0, usage=Usage(prompt_tokens=len(ids), completion_tokens=generated))

    def _run(self, candidate: Candidate, prompt: str, ids: list[int]) -> Iterator[StreamEvent]:
        import torch

        want_prompt = candidate.params.echo and candidate.params.logprobs is not None
        with torch.inference_mode():
            logits, cache = self._forward(torch.tensor([ids]), None, all_positions=want_prompt)
            candidate.start(prompt, ids, logits[:-1] if want_prompt else None)
            yield from candidate.drain()
            token = None if candidate.finished else candidate.advance(logits[-1])
            yield from candidate.drain()
            while token is not None:
                logits, cache = self._forward(torch.tensor([[token]]), cache, all_positions=False)
                token = candidate.advance(logits[-1])
                yield from candidate.drain()

    def _forward(self, input_ids, cache, all_positions: bool) -> tuple[np.ndarray, object]:
        out = self._model(input_ids=input_ids, cache=cache, use_cache=True, logits_to_keep=0 if all_positions else 1)
        return out.logits[0].float().numpy(), out.cache


def _weights_dir(ref: ModelRef) -> Path:
    """The directory with the model's weights: a full fine-tune's own, else the base's."""
    if ref.full_model_dir is not None:
        return ref.full_model_dir
    if ref.base is None:
        raise CaretuneError(f"{ref.model_id}: the transformers engine needs a Hugging Face model, not a GGUF file")
    from caretune.models.registry import resolve

    return resolve(ref.base).hf_dir


def _load_model(hf_dir: Path, adapter_dir: Path | None, dtype):
    """The base with the run's LoRA merged in: merged weights decode faster and give the same output."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=dtype)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    return model.eval()


def _eos_ids(model, tokenizer) -> set[int]:
    """Every id that ends a turn: the generation config's, the tokenizer's EOS, and the end-of-turn special
    tokens that llama.cpp also treats as end of generation (so both engines stop at the same token)."""
    ids: set[int] = set()
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured] if configured is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    special = {t.content: i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    ids.update(special[name] for name in _END_OF_TURN if name in special)
    return ids
