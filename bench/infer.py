"""Benchmark inference on the real Gemma 3 270M (Q4_K_M GGUF) with a LoRA adapter, all in one run.

Measures, on the same files and machine state:
  1. batch 1: time to first token (TTFT) and decode tokens/s for (a) caretune's llama.cpp engine, (b) plain
     llama-cpp-python (`Llama(..., lora_path=...)`, its own streaming completion), (c) caretune's
     transformers engine, each once per round. Targets: (a) >= 0.9x (b), (a) >= 5x (c), as the median of
     the ratios within a round.
  2. aggregate tokens/s of 8 concurrent generations in caretune's llama.cpp engine vs one stream (>= 2x).
  3. parity on the Q4 base: of the first 32 greedy tokens on 20 chat prompts, how many agree between the
     llama.cpp engine (Q4 weights) and the transformers engine (the same weights dequantised to f32).

Without --run, a LoRA adapter with small random weights of the right shapes is made (r=16, every linear
layer): speed does not depend on what the weights are, and no trained Gemma run is needed.

    nice -n 10 python bench/infer.py [--run runs/NAME] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

SPEED_PROMPT = "Customer: my parcel was due yesterday and the tracking page has not changed since Monday\nAgent:"
QUESTIONS = [
    "my order has not arrived yet",
    "how do I reset my password",
    "can I get a refund for my jacket",
    "what are your opening hours on sunday",
    "the app keeps crashing when I log in",
    "where is my parcel it was due yesterday",
    "I was charged twice for one order",
    "how do I change my address",
    "my discount code does not work",
    "can I cancel my subscription",
    "the item I received is broken",
    "do you ship to Canada",
    "how long does a refund take",
    "I forgot my username",
    "why was my account locked",
    "can I speak to a manager",
    "the website is very slow today",
    "my card was declined",
    "how do I return a gift",
    "is there a student discount",
]


def make_random_run(out: Path, scale: float = 0.05, seed: int = 0) -> Path:
    """A run directory on gemma-3-270m with a random LoRA adapter (r=16 on every linear layer).

    ``scale`` multiplies PEFT's random initialisation: small (the default) keeps the model fluent while the
    adapter costs its full compute; ``seed`` makes adapters that differ from one another.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from caretune.models.registry import load_model, load_tokenizer
    from caretune.runs import RunInfo
    from caretune.runs.hyperparameters import Hyperparameters
    from caretune.runs.prompt_format import PromptFormat

    torch.manual_seed(seed)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    config = LoraConfig(r=16, lora_alpha=32, target_modules=targets, init_lora_weights=False)
    model = get_peft_model(load_model("gemma-3-270m"), config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_" in name:
                param.mul_(scale)
    model.save_pretrained(out / "adapter")
    load_tokenizer("gemma-3-270m").save_pretrained(out / "tokenizer")
    hyperparameters = Hyperparameters(
        n_epochs=1, batch_size=1, learning_rate_multiplier=1.0, learning_rate=2e-4, lora_r=16, lora_alpha=32,
        max_seq_len=512, seed=seed, max_steps=None,
    )
    RunInfo(
        name=out.name, base_model="gemma-3-270m", method="lora", prompt_format=PromptFormat(), stop=["\nCustomer:"],
        system_prompt="You are a customer support agent for Acme.", hyperparameters=hyperparameters, data={},
        status="succeeded",
    ).save(out)
    return out


def timed_stream(chunks: Iterable[object], count: Callable[[list[object]], int]) -> dict[str, float]:
    """TTFT, tokens and decode rate (tokens after the first, over the time after the first)."""
    start = time.perf_counter()
    first = None
    seen: list[object] = []
    for chunk in chunks:
        if first is None:
            first = time.perf_counter()
        seen.append(chunk)
    end = time.perf_counter()
    tokens = count(seen)
    return {"ttft_s": first - start, "tokens": tokens, "decode_tok_s": (tokens - 1) / max(end - first, 1e-9)}


def caretune_stream(engine, prompt: str, max_tokens: int) -> dict[str, float]:
    from caretune.engines import SamplingParams

    events = (
        e for e in engine.stream(prompt, SamplingParams(temperature=0, max_tokens=max_tokens)) if e.text or e.usage
    )
    return timed_stream(events, lambda seen: seen[-1].usage.completion_tokens)


def plain_stream(llm, prompt: str, max_tokens: int) -> dict[str, float]:
    llm.reset()  # no reuse of the previous round's prompt cache: both contenders prefill the prompt
    chunks = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0, stream=True)
    return timed_stream(chunks, len)


def batch1(engines: dict[str, Callable[[], dict[str, float]]], rounds: int) -> dict[str, list[dict[str, float]]]:
    """Every contender once per round, the order rotating from round to round: the machine drifts (10 % a
    minute here), so a ratio is taken within a round, between runs seconds apart."""
    for run in engines.values():
        run()  # untimed: a first call pays one-off costs (transformers' first forward takes seconds)
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
    for k in range(rounds):
        for name in rotated(list(engines), k):
            runs[name].append(engines[name]())
    return runs


def rotated(names: list[str], k: int) -> list[str]:
    """`names` starting from the k-th, wrapping round: over successive trials each goes first as often."""
    return names[k % len(names) :] + names[: k % len(names)]


def paired_ratio(runs: dict[str, list[dict[str, float]]], top: str, bottom: str) -> str:
    """The median over rounds of `top`'s decode rate against `bottom`'s in the same round, and the range."""
    ratios = sorted(a["decode_tok_s"] / b["decode_tok_s"] for a, b in zip(runs[top], runs[bottom]))
    return f"{statistics.median(ratios):.2f}x ({ratios[0]:.2f}-{ratios[-1]:.2f})"


def aggregate(engine, n_streams: int, max_tokens: int) -> dict[str, float]:
    """Total generated tokens / wall time with `n_streams` concurrent callers (EOS banned: all run full)."""
    from caretune.engines import SamplingParams

    tokenizer = engine.prompting.tokenizer
    banned = {t: -100.0 for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")}}
    params = SamplingParams(temperature=0, max_tokens=max_tokens, logit_bias=banned)
    prompts = [engine.render_chat([{"role": "user", "content": q}]) for q in QUESTIONS[:n_streams]]
    counts: list[int] = []

    def work(prompt: str) -> None:
        counts.append(engine.complete(prompt, params).completion_tokens)

    threads = [threading.Thread(target=work, args=(p,)) for p in prompts]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {"streams": n_streams, "tokens": sum(counts), "wall_s": wall, "tok_s": sum(counts) / wall}


def parity(fast, reference, n_tokens: int) -> dict[str, object]:
    """Per prompt, how many of the first `n_tokens` greedy tokens agree (up to the first difference)."""
    from caretune.engines import SamplingParams

    params = SamplingParams(temperature=0, max_tokens=n_tokens, logprobs=0)
    agreed = []
    for question in QUESTIONS:
        prompt = fast.render_chat(
            [{"role": "system", "content": fast.system_prompt or ""}, {"role": "user", "content": question}]
        )
        a = fast.complete(prompt, params).choices[0].logprobs.tokens
        b = reference.complete(prompt, params).choices[0].logprobs.tokens
        same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        agreed.append(n_tokens if a == b else same)
    return {
        "prompts": len(agreed),
        "per_prompt": agreed,
        "all_agree": sum(a == n_tokens for a in agreed),
        "agreeing_tokens": sum(agreed),
        "of": n_tokens * len(agreed),
    }


def report_batch1(fast, plain, reference, rounds: int, max_tokens: int) -> None:
    runs = batch1(
        {
            "a_caretune_llamacpp": lambda: caretune_stream(fast, SPEED_PROMPT, max_tokens),
            "b_plain_llama_cpp_python": lambda: plain_stream(plain, SPEED_PROMPT, max_tokens),
            # 32 tokens: at a tenth of llama.cpp's rate, 32 measure its decode rate as well as more would
            "c_caretune_transformers": lambda: caretune_stream(reference, SPEED_PROMPT, 32),
        },
        rounds,
    )
    for name, results in runs.items():
        ttft, rate = (statistics.median(r[key] for r in results) for key in ("ttft_s", "decode_tok_s"))
        print(
            f"batch 1  {name:26s} TTFT {ttft * 1000:7.1f} ms   decode {rate:6.1f} tok/s   "
            f"({results[0]['tokens']:.0f} tokens; median of {len(results)} rounds)"
        )
    ab = paired_ratio(runs, "a_caretune_llamacpp", "b_plain_llama_cpp_python")
    ac = paired_ratio(runs, "a_caretune_llamacpp", "c_caretune_transformers")
    print(f"decode ratio, median over rounds (range): a/b = {ab} (target >= 0.9)   a/c = {ac} (target >= 5)")


def report_concurrency(fast) -> None:
    single, many = aggregate(fast, 1, 64), aggregate(fast, 8, 64)
    for r in (single, many):
        print(f"concurrent {r['streams']}: {r['tokens']} tokens in {r['wall_s']:.2f} s = {r['tok_s']:.1f} tok/s")
    print(f"aggregate ratio 8 streams / 1 stream = {many['tok_s'] / single['tok_s']:.2f}x (target >= 2)")


def report_parity(fast, reference) -> None:
    agreement = parity(fast, reference, 32)
    print(
        f"parity Q4 llama.cpp vs transformers (f32 dequantised): {agreement['all_agree']}/{agreement['prompts']} "
        f"prompts agree on all 32 tokens; {agreement['agreeing_tokens']}/{agreement['of']} tokens agree before "
        f"the first difference; per prompt {agreement['per_prompt']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="A trained run on gemma-3-270m (default: random adapter).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from caretune.engines.llamacpp_runtime import shorten_openmp_spin

    # Before anything loads libgomp (llama_cpp here, torch in make_random_run): both llama.cpp paths share
    # it, and run with the OpenMP spin caretune serves with.
    shorten_openmp_spin()
    import llama_cpp

    from caretune.engines import load_engine

    with tempfile.TemporaryDirectory(prefix="caretune-bench-") as tmp:
        run = args.run or make_random_run(Path(tmp) / "run")
        fast = load_engine(run, engine="llamacpp", n_threads=args.threads)
        kind = "trained run" if args.run else "random LoRA r=16"
        print(f"model {fast.model_path.name}  adapter {fast.lora_path}  ({kind}), {args.threads} threads")
        print(f"load average at the start (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
        plain = llama_cpp.Llama(
            str(fast.model_path),
            lora_path=str(fast.lora_path),
            n_ctx=4096,
            n_threads=args.threads,
            n_threads_batch=args.threads,
            verbose=False,
        )
        reference = load_engine(run, engine="transformers")
        report_batch1(fast, plain, reference, args.rounds, args.max_tokens)
        report_concurrency(fast)
        report_parity(fast, reference)
        fast.close()
    print(f"load average at the end (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
