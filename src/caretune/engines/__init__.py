"""Inference engines behind one interface: `load_engine(ref)` and the OpenAI-style parameters and results.

`llamacpp` (llama-cpp-python, GGUF, fast on CPU) is the default wherever a GGUF base exists; `transformers`
is the reference that runs any Hugging Face model (and the tiny models tests build).
"""

from caretune.engines.base import Choice, CompletionResult, Engine, Logprobs, Prompt, StreamEvent, Usage
from caretune.engines.loading import load_engine
from caretune.engines.params import EngineError, SamplingParams

__all__ = [
    "Choice",
    "CompletionResult",
    "Engine",
    "EngineError",
    "Logprobs",
    "Prompt",
    "SamplingParams",
    "StreamEvent",
    "Usage",
    "load_engine",
]
