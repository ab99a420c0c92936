"""Benchmark prompt lookup (n-gram) decoding against plain decoding on the held-out demo turns.

A support reply copies phrases from the conversation and, with knowledge, from the passages in the prompt;
prompt lookup drafts the next tokens from there and checks them in one decode step. On the real Gemma 3
270M (or `--model runs/NAME`), greedy, for each held-out demo turn (the conversation before a real agent
reply, `caretune prepare`'s test split of the demo log) without and with three knowledge passages (the
shop's policies):
  - caretune's llama.cpp engine with `--prompt-lookup K` for each K of --drafts, against the same engine
    with it off (0); and, as a reference, llama-cpp-python's own `LlamaPromptLookupDecoding` (its
    `Llama` with `draft_model`, num_pred_tokens 10) against its plain `Llama`;
  - per setting: decode tokens/s (after the first token) as the median over turns, the median of the
    per-turn ratios against plain decoding in the same family (with quartiles), how many answers are the
    same text as plain decoding's, and for caretune the share of drafted tokens kept.
Each turn runs on every configuration in turn, the order rotating, so the machine's drift hits all alike.
The prompt cache is off everywhere, so every configuration reads the whole prompt.

    nice -n 10 python bench/ngram.py [--model gemma-3-270m] [--turns 20] [--drafts 4 10] [--max-tokens 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator

from infer import rotated  # bench/ is on sys.path when run
from knowledge import policy_base, prepared_demo

Stream = Callable[[str], Iterator[str]]


def timed(stream: Iterator[str]) -> tuple[float, str]:
    """(decode seconds after the first piece, the text) of a stream of text pieces."""
    first, pieces = None, []
    for text in stream:
        if text:
            first = first if first is not None else time.perf_counter()
            pieces.append(text)
    assert first is not None, "nothing generated"
    return time.perf_counter() - first, "".join(pieces)


def caretune_stream(engine, params) -> Stream:
    return lambda prompt: (event.text for event in engine.stream(prompt, params))


def llama_cpp_python_stream(llm, max_tokens: int, stop: list[str]) -> Stream:
    def run(prompt: str) -> Iterator[str]:
        chunks = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0, stop=stop, stream=True)
        yield from (chunk["choices"][0]["text"] for chunk in chunks)

    return run


def prompts(engine, turns: int, knowledge) -> list[str]:
    """The prompts of the first ``turns`` held-out demo turns, with the passages ``knowledge`` finds."""
    from caretune.answering import prepare_answer
    from caretune.evaluation.turns import load_turns

    held_out = load_turns(prepared_demo() / "test.jsonl")[:turns]
    return [prepare_answer(engine, turn.history, knowledge, 64).prompt for turn in held_out]


def measure(streams: dict[str, Stream], count_tokens, texts: list[str]) -> dict[str, list[tuple[float, str]]]:
    """Per configuration and prompt: (decode tokens/s, text); every prompt on every configuration in turn."""
    for stream in streams.values():
        timed(stream(texts[0]))  # warm-up
    results: dict[str, list[tuple[float, str]]] = {name: [] for name in streams}
    for k, text in enumerate(texts):
        for name in rotated(list(streams), k):
            seconds, answer = timed(streams[name](text))
            results[name].append((max(count_tokens(answer) - 1, 1) / max(seconds, 1e-9), answer))
    return results


def report(label: str, results: dict[str, list[tuple[float, str]]], kept: dict[str, float]) -> None:
    print(label)
    print(f"  {'configuration':<34} {'tok/s':>7} {'vs plain (quartiles)':>22} {'same text':>10} {'drafts kept':>12}")
    for name, rows in results.items():
        plain = results["caretune plain" if name.startswith("caretune") else "llama-cpp-python plain"]
        ratios = [r[0] / p[0] for r, p in zip(rows, plain)]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
        same = sum(r[1] == p[1] for r, p in zip(rows, plain))
        share = f"{kept[name]:.0%}" if name in kept else ""
        print(f"  {name:<34} {statistics.median(r[0] for r in rows):7.1f} "
              f"{statistics.median(ratios):>9.2f}x ({q1:.2f}-{q3:.2f}) {same:>6}/{len(rows):<3} {share:>12}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--drafts", type=int, nargs="+", default=[4, 10])
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from caretune.engines import SamplingParams, load_engine
    from caretune.runs.info import KnowledgeSettings

    engines = {"caretune plain": load_engine(args.model, engine="llamacpp", prompt_cache_mb=0)}
    for k in args.drafts:
        engines[f"caretune lookup {k}"] = load_engine(args.model, engine="llamacpp", prompt_cache_mb=0, prompt_lookup=k)
    plain = engines["caretune plain"]
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, stop=plain.default_stop)
    common = {"model_path": str(plain.model_path), "lora_path": str(plain.lora_path) if plain.lora_path else None,
              "n_ctx": 4096, "n_threads": os.cpu_count(), "verbose": False}
    streams = {name: caretune_stream(engine, params) for name, engine in engines.items()}
    streams["llama-cpp-python plain"] = llama_cpp_python_stream(Llama(**common), args.max_tokens, plain.default_stop)
    streams["llama-cpp-python lookup 10"] = llama_cpp_python_stream(
        Llama(**common, draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10)), args.max_tokens,
        plain.default_stop,
    )
    kb = policy_base([], "policies")
    count = lambda text: len(plain.tokenize(text)) - 1  # noqa: E731 - without the BOS tokenize adds
    print(f"model {args.model}, greedy, at most {args.max_tokens} tokens an answer, {args.turns} held-out demo turns")
    for label, knowledge in (("without knowledge", None), ("with three passages", KnowledgeSettings(path=str(kb.path)))):
        before = {name: (e._scheduler.drafted, e._scheduler.accepted) for name, e in engines.items()}
        results = measure(streams, count, prompts(plain, args.turns, knowledge))
        kept = {
            name: (e._scheduler.accepted - before[name][1]) / max(e._scheduler.drafted - before[name][0], 1)
            for name, e in engines.items() if name != "caretune plain"
        }
        report(label, results, kept)


if __name__ == "__main__":
    main()
