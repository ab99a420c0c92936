"""Prefix caching for the llama.cpp engine: a chat's next turn is prefilled only past what is already cached.

Each turn of a chat resends the whole conversation, so without a cache its prefill grows with every turn.
A finished sequence (its prompt and the reply tokens decoded after it) stays in the llama.cpp context under
a sequence id of its own; a new prompt that shares a prefix with one gets that prefix's KV cells (shared,
not copied: the context's cache is unified) and only its remaining tokens are decoded. Several
conversations that open with the same instructions and passages share those cells the same way.

Cached sequences give way to live requests: when a decode finds no free cells, or the scheduler no free
sequence id, the least recently used one is copied out of the context (llama.cpp's sequence state) to RAM,
or to files under a directory (which then outlive the process), and a later prompt that extends it loads it
back. Everything cached, in the context or out, is bounded by a budget in bytes, least recently used
dropped first. A sliding-window layer keeps only a window of a sequence's latest positions, so a cached
prefix that lacks cells its next token needs is not used (``LlamaRuntime.continues_at``), and the prompt
is prefilled in full instead: slower, never wrong.

Fine-tunes sharing one context (``shared_base.py``) share one cache: each entry records its owner (the
LoRA adapter it was decoded with, or none), and a prompt starts only from its own adapter's states.

Only the scheduler's thread calls this, except ``stats`` (a snapshot of plain counters).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from caretune.engines.llamacpp_runtime import LlamaRuntime

# Loading a stored state costs a copy of the whole sequence's cells (microseconds a token), prefilling costs
# a forward pass a token (about a millisecond on a CPU): a stored sequence is worth loading for a shared
# prefix of at least this share of its length.
_MIN_STORED_SHARE = 1 / 64

_FILE_MAGIC = b"CTKV2\0"
# magic, tokens, prompt tokens, owner; then the tokens (int32), then the state
_FILE_HEADER = struct.Struct("<6sII24s")


class PromptCacheStats(BaseModel):
    """What the prompt cache holds and has saved (an engine's ``prompt_cache_stats()``)."""

    budget_bytes: int
    lookups: int = 0  # prompts looked up
    hits: int = 0  # prompts that started from a cached prefix
    reused_tokens: int = 0  # prompt tokens taken from the cache instead of decoded
    prompt_tokens: int = 0  # prompt tokens of every lookup
    loaded: int = 0  # hits on a sequence stored out of the context, loaded back
    unusable: int = 0  # prefixes found but not used: a sliding window lacked cells, or a state did not load
    stored: int = 0  # sequences copied out of the context to make room
    dropped: int = 0  # sequences dropped to keep within the budget
    live_entries: int = 0  # cached sequences in the llama.cpp context
    stored_entries: int = 0  # cached sequences copied out of it (RAM or files)
    cached_tokens: int = 0
    cached_bytes: int = 0  # KV state of every cached sequence, a prefix shared by several counted in each

    @property
    def bytes_per_entry(self) -> float:
        """Memory per cached conversation (its KV state), on average."""
        entries = self.live_entries + self.stored_entries
        return self.cached_bytes / entries if entries else 0.0


@dataclass(eq=False)
class _Entry:
    """A cached sequence: its tokens (positions 0..n-1), where it is, and its size."""

    tokens: np.ndarray
    prompt_len: int  # the tokens of the request it finished; a prompt reusing all of them continues it
    nbytes: int
    used: int
    seq: int | None = None  # its sequence id while it is in the context
    state: bytes | Path | None = None  # its saved KV state once it is out of the context (RAM or a file)
    owner: str = ""  # the tag of the LoRA adapter it was decoded with ("" for none)


def _common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


class PromptCache:
    """Cached sequences of one llama.cpp context; ``free_seqs`` is the scheduler's pool of sequence ids,
    which gets back the id of every sequence that leaves the context."""

    def __init__(
        self, runtime: LlamaRuntime, free_seqs: list[int], budget_bytes: int, directory: Path | None = None
    ) -> None:
        self._runtime = runtime
        self._free_seqs = free_seqs
        self._budget = budget_bytes
        self._dir = directory
        self._entries: list[_Entry] = []
        self._clock = itertools.count(1)
        self._stats = PromptCacheStats(budget_bytes=budget_bytes)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._entries = _read_directory(directory, self._clock)
            self._fit_budget()
        self._count()

    def stats(self) -> PromptCacheStats:
        return self._stats.model_copy()

    def attach(self, ids: list[int], seqs: list[int], owner: str = "") -> int:
        """Give every sequence of ``seqs`` (empty) the longest usable prefix of ``ids`` that ``owner`` cached;
        how many positions they now hold. The last prompt token is always left to decode: its logits pick
        the first token."""
        self._stats.lookups += 1
        self._stats.prompt_tokens += len(ids)
        prompt = np.asarray(ids, dtype=np.int32)
        entry, n = self._best(prompt[:-1], owner)
        if entry is None:
            return 0
        placed = self._place(entry, seqs[0], n)
        if n >= entry.prompt_len:  # the request continues the cached conversation: it will be cached instead
            self._drop(entry)
        else:
            entry.used = next(self._clock)
        if not placed:
            self._count()
            return 0
        for seq in seqs[1:]:
            self._runtime.share(seqs[0], seq, n)
        self._stats.hits += 1
        self._stats.reused_tokens += n
        self._count()
        return n

    def keep(self, seq: int, tokens: list[int], prompt_len: int, owner: str = "") -> None:
        """Cache a finished sequence of ``owner`` (its cells stay in the context under ``seq``)."""
        nbytes = self._runtime.state_size(seq)
        if nbytes > self._budget:
            self._runtime.forget(seq)
            self._free_seqs.append(seq)
            return
        tokens_array = np.asarray(tokens, dtype=np.int32)
        for older in [
            e for e in self._entries if e.owner == owner and _common_prefix(e.tokens, tokens_array) == len(e.tokens)
        ]:
            self._drop(older)  # whatever prompt it could start, the new one starts as far
        self._entries.append(_Entry(tokens_array, prompt_len, nbytes, next(self._clock), seq=seq, owner=owner))
        self._fit_budget()
        self._count()

    def make_room(self) -> bool:
        """Move the least recently used sequence in the context out of it (its cells and id are freed);
        False if none is left."""
        live = [e for e in self._entries if e.seq is not None]
        if not live:
            return False
        self._store(min(live, key=lambda e: e.used))
        return True

    def store_owner(self, owner: str) -> None:
        """Move every sequence ``owner`` cached out of the context (its adapter is leaving it)."""
        for entry in [e for e in self._entries if e.owner == owner and e.seq is not None]:
            self._store(entry)

    def _store(self, entry: _Entry) -> None:
        """Copy a cached sequence's state out of the context (to RAM or a file) and free its cells and id."""
        if self._runtime.n_swa and self._runtime.continues_at(entry.seq, entry.prompt_len):
            # A saved state keeps only the last window of a sliding-window layer, so it can be continued only
            # from its very end; its prompt's end is where the next turn surely continues (the reply may come
            # back tokenized otherwise, or cut).
            self._runtime.truncate(entry.seq, entry.prompt_len)
            entry.tokens = entry.tokens[: entry.prompt_len]
        data = self._runtime.save_state(entry.seq)
        self._forget_seq(entry)
        entry.nbytes = len(data)
        try:
            entry.state = self._write(entry, data)
            self._stats.stored += 1
        except OSError:  # a full or unwritable directory loses this state, never the request needing room
            self._drop(entry)
        self._fit_budget()
        self._count()

    def close(self) -> None:
        """With a directory, move every cached sequence out of the context into it, for the next process."""
        while self._dir is not None and self.make_room():
            pass

    def _best(self, prompt: np.ndarray, owner: str) -> tuple[_Entry | None, int]:
        """The entry of ``owner`` sharing the longest prefix with ``prompt`` (one in the context on a tie), and
        that length."""
        best, best_key = None, (0, False, 0)
        for entry in self._entries:
            if entry.owner != owner:
                continue
            n = _common_prefix(entry.tokens, prompt)
            live = entry.seq is not None
            if not live and not self._worth_loading(entry, n):
                continue
            key = (n, live, entry.used)
            if n > 0 and key > best_key:
                best, best_key = entry, key
        return best, best_key[0]

    def _worth_loading(self, entry: _Entry, n: int) -> bool:
        """Whether a stored entry's first ``n`` positions are worth loading: a large enough share of it, and
        (a saved state keeping only the last window of a sliding-window layer) all of it when it outgrew the
        window."""
        length = len(entry.tokens)
        outgrew = 0 < self._runtime.n_swa < length
        return n >= length * _MIN_STORED_SHARE and (n >= length - 1 or not outgrew)

    def _place(self, entry: _Entry, seq: int, n: int) -> bool:
        """Put the entry's first ``n`` positions in ``seq``; False (``seq`` left empty) if they are unusable."""
        if entry.seq is not None:
            self._runtime.share(entry.seq, seq, n)
        elif self._load(entry, seq):
            self._stats.loaded += 1
            self._runtime.truncate(seq, n)
        if self._runtime.continues_at(seq, n):
            return True
        self._runtime.forget(seq)
        self._stats.unusable += 1
        return False

    def _load(self, entry: _Entry, seq: int) -> bool:
        """Load a stored entry's state into ``seq``, moving others out of the context while it lacks room.
        One that does not load even then (its file gone or damaged, or running requests hold the room) is
        dropped, so it is not tried again at every prompt."""
        data = self._read(entry)
        while data is not None:
            if self._runtime.load_state(seq, data):
                return True
            self._runtime.forget(seq)
            if not self.make_room():
                break
        self._drop(entry)
        return False

    def _fit_budget(self) -> None:
        while sum(e.nbytes for e in self._entries) > self._budget:
            self._drop(min(self._entries, key=lambda e: e.used))
            self._stats.dropped += 1

    def _drop(self, entry: _Entry) -> None:
        """Forget an entry, wherever it is (once: a state that failed to load is dropped where it failed)."""
        if entry not in self._entries:
            return
        self._entries.remove(entry)
        if entry.seq is not None:
            self._forget_seq(entry)
        if isinstance(entry.state, Path):
            entry.state.unlink(missing_ok=True)

    def _forget_seq(self, entry: _Entry) -> None:
        self._runtime.forget(entry.seq)
        self._free_seqs.append(entry.seq)
        entry.seq = None

    def _write(self, entry: _Entry, data: bytes) -> bytes | Path:
        """Where a state copied out of the context is kept: in RAM, or in a file (written whole, then renamed)."""
        if self._dir is None:
            return data
        name = hashlib.sha256(entry.owner.encode() + entry.tokens.tobytes()).hexdigest()[:32]
        path = self._dir / f"{name}.kv"
        partial = path.with_suffix(".part")
        header = _FILE_HEADER.pack(_FILE_MAGIC, len(entry.tokens), entry.prompt_len, entry.owner.encode())
        partial.write_bytes(header + entry.tokens.astype("<i4").tobytes() + data)
        os.replace(partial, path)
        return path

    def _read(self, entry: _Entry) -> bytes | None:
        if not isinstance(entry.state, Path):
            return entry.state
        try:
            with entry.state.open("rb") as f:
                f.seek(_FILE_HEADER.size + 4 * len(entry.tokens))
                return f.read()
        except OSError:
            return None

    def _count(self) -> None:
        stats = self._stats
        stats.live_entries = sum(e.seq is not None for e in self._entries)
        stats.stored_entries = len(self._entries) - stats.live_entries
        stats.cached_tokens = sum(len(e.tokens) for e in self._entries)
        stats.cached_bytes = sum(e.nbytes for e in self._entries)


def _read_directory(directory: Path, clock: itertools.count) -> list[_Entry]:
    """The states a previous process left in ``directory``, oldest first (a damaged file is removed)."""
    entries = []
    for path in sorted(directory.glob("*.kv"), key=lambda p: p.stat().st_mtime):
        entry = _read_header(path, next(clock))
        if entry is None:
            path.unlink(missing_ok=True)
        else:
            entries.append(entry)
    return entries


def _read_header(path: Path, used: int) -> _Entry | None:
    """A stored state's entry from its file's header and tokens (the state stays on disk); None if damaged."""
    try:
        with path.open("rb") as f:
            magic, n_tokens, prompt_len, owner = _FILE_HEADER.unpack(f.read(_FILE_HEADER.size))
            raw = f.read(4 * n_tokens)
        size = path.stat().st_size - _FILE_HEADER.size - 4 * n_tokens
    except (OSError, struct.error):
        return None
    if magic != _FILE_MAGIC or len(raw) != 4 * n_tokens or size <= 0:
        return None
    tokens = np.frombuffer(raw, dtype="<i4").astype(np.int32)
    return _Entry(tokens, prompt_len, size, used, state=path, owner=owner.rstrip(b"\0").decode("ascii", "replace"))
