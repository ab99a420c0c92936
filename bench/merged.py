"""Benchmark a fine-tune served from its re-quantised merge against the base and the runtime adapter.

On the real Gemma 3 270M, in one process, each round streams the same greedy generation (end-of-sequence
banned, so every stream has --max-tokens tokens) from:
  base       the registry's Q4_K_M GGUF alone;
  adapter    the base + the run's LoRA adapter applied at run time (what serving did before);
  merged-q8  the run merged and re-quantised to Q8_0 (`caretune export --format gguf-q8`);
  merged-q4  the same to Q4_K_M (`--format gguf-q4`);
in an order rotating from round to round, and prints the decode rates (medians) and, per round, each one's
rate against the base's in the same round (median and range). Target: the served fine-tune >= 0.95x base.

Then, with --gate-data (or a trained --run whose run.json names its validation file), the quality gate of
each merge against the runtime adapter (what `caretune export` records): held-out perplexity, identical
greedy replies, the same first choice at each reply token, and the verdict under the default thresholds; and, for reference, the
same figures for the base alone (what the fine-tune changed). Without a trained run the adapter is random
(r=16 on every linear layer, small): right for speed, meaningless for the gate.

    flock /work/bench.lock nice -n 10 python bench/merged.py [--run runs/NAME] [--gate-data valid.jsonl] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from infer import SPEED_PROMPT, batch1, make_random_run, paired_ratio, timed_stream  # bench/ is on sys.path

FORMATS = {"merged-q8": "gguf-q8", "merged-q4": "gguf-q4"}


def stream(engine, max_tokens: int) -> dict[str, float]:
    from caretune.engines import SamplingParams

    tokenizer = engine.prompting.tokenizer
    banned = {t: -100.0 for t in {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")}}
    params = SamplingParams(temperature=0, max_tokens=max_tokens, logit_bias=banned)
    events = (e for e in engine.stream(SPEED_PROMPT, params) if e.text or e.usage)
    return timed_stream(events, lambda seen: seen[-1].usage.completion_tokens)


def load(run: Path, threads: int) -> dict[str, object]:
    from caretune.engines import load_engine
    from caretune.engines.llamacpp import LlamaCppEngine
    from caretune.export.run import export_run
    from caretune.runs.refs import resolve_ref

    ref = resolve_ref(run)
    engines = {
        "base": load_engine(ref.base, engine="llamacpp", n_threads=threads),
        "adapter": load_engine(run, engine="llamacpp", n_threads=threads, lora_mode="adapter"),
    }
    for name, fmt in FORMATS.items():
        merged = ref.export_path(fmt)
        if not merged.is_file():
            export_run(run, fmt)
        engines[name] = LlamaCppEngine(ref.model_copy(update={"gguf_path": merged}), n_threads=threads)
    return engines


def report_speed(engines: dict[str, object], rounds: int, max_tokens: int) -> None:
    runs = batch1({name: (lambda e=engine: stream(e, max_tokens)) for name, engine in engines.items()}, rounds)
    for name, results in runs.items():
        rate = statistics.median(r["decode_tok_s"] for r in results)
        print(f"decode {name:10s} {rate:6.1f} tok/s (median of {rounds} rounds, {max_tokens} tokens)")
    for name in engines:
        if name != "base":
            print(f"{name:10s} / base, paired per round: {paired_ratio(runs, name, 'base')} (target >= 0.95)")


def report_gate(run: Path, data: Path, threads: int, turns: int | None) -> None:
    from caretune.engines.llamacpp import LlamaCppEngine
    from caretune.evaluation.quant_gate import compare, gate
    from caretune.evaluation.turns import load_turns
    from caretune.export.gate_record import GateThresholds
    from caretune.runs.refs import resolve_ref

    limits = GateThresholds(**({"turns": turns} if turns else {}))
    for name, fmt in FORMATS.items():
        record = gate(run, fmt, data, limits, threads)
        f = record.figures
        print(
            f"gate {name}: perplexity {f.perplexity:.3f} vs {f.reference_perplexity:.3f} ({f.perplexity_increase:+.2%}), "
            f"same first choice {f.token_agreement:.1%}, identical replies {f.exact_agreement:.0%} on {f.turns} turns "
            f"-> {'PASSED' if record.passed else 'failed: ' + '; '.join(record.failures)}"
        )
    ref = resolve_ref(run)
    options = {"n_threads": threads, "prompt_cache_mb": 0}
    reference = LlamaCppEngine(ref, lora_mode="adapter", **options)
    base_only = LlamaCppEngine(ref.model_copy(update={"gguf_path": reference.model_path}), **options)  # no adapter
    f = compare(reference, base_only, load_turns(data, limit=limits.turns), limits, ref.run.hyperparameters.max_seq_len)
    print(
        f"for scale, the base alone: perplexity {f.perplexity:.3f} ({f.perplexity_increase:+.1%}), identical "
        f"replies {f.exact_agreement:.0%}, same first choice {f.token_agreement:.1%}"
    )
    base_only.close()
    reference.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="A trained LoRA run on gemma-3-270m (default: random adapter).")
    parser.add_argument("--gate-data", type=Path, help="Held-out chat JSONL (default: the run's validation file).")
    parser.add_argument("--gate-turns", type=int, help="Held-out turns the gate reads (default: the gate's own).")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    from caretune.engines.llamacpp_runtime import shorten_openmp_spin

    shorten_openmp_spin()  # before torch (the export, the random run) loads libgomp
    with tempfile.TemporaryDirectory(prefix="caretune-bench-") as tmp:
        run = args.run or make_random_run(Path(tmp) / "run")
        print(f"{'trained run ' + str(run) if args.run else 'random LoRA r=16'}, {args.threads} threads")
        print(f"load average at the start (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
        engines = load(run, args.threads)
        report_speed(engines, args.rounds, args.max_tokens)
        for engine in engines.values():
            engine.close()
        data = args.gate_data or _held_out(run)
        if data is not None:
            report_gate(run, data, args.threads, args.gate_turns)
    print(f"load average at the end (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")


def _held_out(run: Path) -> Path | None:
    from caretune.errors import InputError
    from caretune.evaluation.quant_gate import held_out_file
    from caretune.runs.refs import resolve_ref

    try:
        return held_out_file(resolve_ref(run))
    except InputError:
        print("no held-out data: give --gate-data (and a trained --run) for the gate's figures")
        return None


if __name__ == "__main__":
    main()
