"""Run a causal LM for its final hidden states, through whatever wrapper (PEFT, DDP) the Trainer gave it.

The forward call goes through the wrapper, so distributed gradient synchronisation works unchanged; a hook
on the decoder catches its output (after the final norm), and the head is asked for one position only.
"""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

import torch


def causal_lm_of(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers causal LM inside a PEFT and/or distributed wrapper."""
    while hasattr(model, "module"):
        model = model.module
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@contextmanager
def _capture_decoder_output(causal_lm: torch.nn.Module) -> Iterator[dict]:
    captured: dict = {}

    def hook(_module, _args, output) -> None:
        captured["hidden"] = output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]

    handle = causal_lm.get_decoder().register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


def final_hidden_states(model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, T, H) hidden states after the final norm; the full-vocabulary head runs on one position only."""
    with _capture_decoder_output(causal_lm_of(model)) as captured:
        model(**inputs, logits_to_keep=1, use_cache=False)
    return captured["hidden"]
