"""One llama.cpp model, context and scheduler per GGUF file and settings, shared by every engine on it.

A company serving a fine-tune per brand or per month serves many LoRA adapters of one base. Each engine of
its own would hold a whole context (its KV cache and compute buffers, most of a small model's memory) and
decode alone; sharing the base's context, each fine-tune adds its adapter and its tokenizer (itself shared
when identical, ``prompting/chat.py``), and the scheduler decodes each adapter's sequences in turn
(``scheduler.py``), as llama-server does with per-request LoRA. The base model served as itself, or a
merged GGUF loaded twice, shares the same way (with no adapter).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from caretune.engines.llamacpp_runtime import LlamaRuntime, RuntimeConfig
from caretune.engines.scheduler import Scheduler


@dataclass(frozen=True)
class BaseKey:
    """What makes two engines able to share a context: the same file (as it is now) and settings."""

    model: str  # resolved path, size and modification time (a converted base: what it came from)
    config: RuntimeConfig
    cache_bytes: int
    cache_dir: Path | None
    draft: int

    @classmethod
    def of(cls, model_path: Path, config: RuntimeConfig, cache_bytes: int, cache_dir: Path | None, draft: int):
        return cls(model_identity(model_path), config, cache_bytes, cache_dir, draft)


def model_identity(model_path: Path) -> str:
    """Which weights a GGUF holds: its resolved path, size and modification time (a base converted from
    Hugging Face: what it came from, whichever run's copy it is)."""
    from caretune.export.base_gguf import converted_identity

    stat = model_path.stat()
    return converted_identity(model_path) or f"{model_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


class SharedBase:
    """A runtime and its scheduler, with the number of engines using them."""

    def __init__(self, key: BaseKey, model_path: Path) -> None:
        self.key = key
        self.runtime = LlamaRuntime(model_path, key.config)
        try:
            self.scheduler = Scheduler(self.runtime, key.cache_bytes, key.cache_dir, key.draft)
        except BaseException:
            self.runtime.close()
            raise
        self.users = 0

    def close(self) -> None:
        self.scheduler.close()
        self.runtime.close()


_bases: dict[BaseKey, SharedBase] = {}
_lock = threading.Lock()  # held while a base loads: a second engine on it waits, and then shares it


def attach(key: BaseKey, model_path: Path) -> SharedBase:
    """The shared base for ``key``, loaded by its first user; every call needs a ``release``."""
    with _lock:
        base = _bases.get(key)
        if base is None:
            base = _bases[key] = SharedBase(key, model_path)
        base.users += 1
        return base


def release(base: SharedBase) -> None:
    """One user fewer; the last one frees the context and the model."""
    with _lock:
        base.users -= 1
        if base.users > 0:
            return
        del _bases[base.key]
    base.close()
