"""The quality gate of a re-quantised merge: is it still the fine-tune that the runtime adapter serves?

``caretune export --format gguf-q4`` (and a server's fine-tuning job, at its end) merges a LoRA run into its
base, quantises the result, and compares it with the model it would replace, the base GGUF plus the
run's adapter applied at run time, on held-out conversations the run did not train on:

- perplexity of the real agent replies given their history (the tokens training's loss counted);
- at each of those tokens, whether both models rank the same next token first (token agreement: one
  decision at a time, so a near-tie flipped early does not count against every token after it);
- the greedy replies to the same histories: the share of prompts whose first ``reply_tokens`` tokens are
  identical.

Both models run in llama.cpp with the same context settings, so what differs is the weights alone. The
verdict and the figures are written beside the merge (``export/gate_record.py``); serving reads them.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from caretune.engines import SamplingParams
from caretune.engines.base import Engine
from caretune.errors import InputError
from caretune.evaluation.likelihood import TokenStats, turn_conversation
from caretune.evaluation.turns import Turn, load_turns
from caretune.export.gate_record import GateFigures, GateRecord, GateThresholds, write_record
from caretune.runs.refs import ModelRef, resolve_ref

# Context of the two engines the gate loads: a held-out turn is cut to the run's training length, and its
# greedy reply is short.
_GATE_CONTEXT = 4096
# Greedy replies asked at once: the engine decodes them side by side, as it serves concurrent chats.
_PARALLEL_PROMPTS = 8


def export_and_gate(
    run: str | Path, fmt: str, data: Path | None = None, thresholds: GateThresholds | None = None,
    threads: int | None = None,
) -> tuple[Path, GateRecord]:
    """Write the run's re-quantised merge (``gguf-q4`` or ``gguf-q8``), gate it, and return both."""
    from caretune.engines.llamacpp_log import capture
    from caretune.export.run import export_run

    ref = _lora_run(run)
    held_out = data or held_out_file(ref)  # before the export's minute: a missing file is said at once
    capture()
    merged = export_run(run, fmt)
    return merged, gate(run, fmt, held_out, thresholds, threads)


def gate(
    run: str | Path, fmt: str, data: Path | None = None, thresholds: GateThresholds | None = None,
    threads: int | None = None,
) -> GateRecord:
    """Measure the run's merge of format ``fmt`` against the runtime adapter on held-out turns, and record
    the verdict beside it."""
    from caretune.engines.llamacpp import LlamaCppEngine

    limits = thresholds or GateThresholds()
    ref = _lora_run(run)
    held_out = data or held_out_file(ref)
    turns = load_turns(held_out, limit=limits.turns)
    merged = ref.export_path(fmt)
    options = {"n_ctx": _GATE_CONTEXT, "n_threads": threads, "prompt_cache_mb": 0}
    reference = LlamaCppEngine(ref, lora_mode="adapter", **options)
    candidate = LlamaCppEngine(ref.model_copy(update={"gguf_path": merged}), **options)
    try:
        figures = compare(reference, candidate, turns, limits, ref.run.hyperparameters.max_seq_len)
    finally:
        reference.close()
        candidate.close()
    failures = figures.failures(limits)
    described = f"{reference.model_path.name} + {reference.lora_path.name} (runtime LoRA)"
    return write_record(
        ref, fmt, merged, reference=described, data=str(held_out), thresholds=limits, figures=figures,
        failures=failures, passed=not failures,
    )


def _lora_run(run: str | Path) -> ModelRef:
    ref = resolve_ref(run)
    if ref.adapter_dir is None:
        raise InputError("only LoRA runs are merged and gated; export a full fine-tune with --format gguf", run)
    return ref


def held_out_file(ref: ModelRef) -> Path:
    """The run's validation file (``run.json``'s data after the training file), else ``test.jsonl`` beside
    its training file."""
    files = [Path(p) for p in ref.run.data]
    candidates = files[1:] + ([files[0].with_name("test.jsonl")] if files else [])
    for path in candidates:
        if path.is_file():
            return path
    raise InputError("the run records no held-out file that still exists; give one with --gate-data", ref.run_dir)


def compare(reference: Engine, candidate: Engine, turns: list[Turn], limits: GateThresholds, max_len: int) -> GateFigures:
    """The gate's figures for ``candidate`` against ``reference`` on ``turns``."""
    ref_stats, stats, same_top = TokenStats(), TokenStats(), 0
    for turn in turns:
        ids, labels = _scored_tokens(reference, turn, max_len)
        ref_turn, ref_top = reply_stats(reference, ids, labels)
        turn_stats, top = reply_stats(candidate, ids, labels)
        ref_stats, stats = ref_stats + ref_turn, stats + turn_stats
        same_top += sum(a == b for a, b in zip(ref_top, top))
    prompts = [reference.render_chat(turn.history) for turn in turns]
    replies = zip(greedy_replies(reference, prompts, limits.reply_tokens), greedy_replies(candidate, prompts, limits.reply_tokens))
    return GateFigures(
        turns=len(turns),
        scored_tokens=ref_stats.tokens,
        reference_perplexity=ref_stats.perplexity,
        perplexity=stats.perplexity,
        token_agreement=same_top / max(1, ref_stats.tokens),
        prompts=len(prompts),
        exact_agreement=sum(a == b for a, b in replies) / len(prompts),
    )


def _scored_tokens(engine: Engine, turn: Turn, max_len: int) -> tuple[list[int], list[int]]:
    """The turn's tokens and training labels (the reply's tokens, ``-100`` elsewhere), as training cut them."""
    from caretune.prompting import tokenize_conversation

    prompting = engine.prompting
    encoded = tokenize_conversation(turn_conversation(turn), prompting.format, prompting.tokenizer, max_len)
    return encoded["input_ids"], encoded["labels"]


def reply_stats(engine: Engine, ids: list[int], labels: list[int]) -> tuple[TokenStats, list[str]]:
    """Negative log-likelihood of the labelled tokens, and the token the engine ranked first at each, from
    its log-probabilities of the prompt."""
    from caretune.prompting import IGNORE

    echoed = engine.complete(ids, SamplingParams(max_tokens=0, echo=True, logprobs=1)).choices[0].logprobs
    rows = zip(echoed.token_logprobs[: len(ids)], echoed.top_logprobs, labels)
    scored = [(lp, max(top, key=top.get)) for lp, top, label in rows if label != IGNORE and lp is not None]
    return TokenStats(nll=-sum(lp for lp, _ in scored), tokens=len(scored)), [first for _, first in scored]


def greedy_replies(engine: Engine, prompts: list[str], tokens: int) -> list[list[str]]:
    """Each prompt's first ``tokens`` greedy tokens (fewer where the reply ends)."""
    params = SamplingParams(temperature=0, max_tokens=tokens, logprobs=0)
    with ThreadPoolExecutor(_PARALLEL_PROMPTS) as pool:
        results = pool.map(lambda prompt: engine.complete(prompt, params), prompts)
        return [result.choices[0].logprobs.tokens for result in results]

