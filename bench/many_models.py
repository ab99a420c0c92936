"""Benchmark serving many fine-tunes of Gemma 3 270M at once: memory and load time for 1, 4 and 8.

A company keeps a fine-tune per brand or per month; a server keeps up to --max-loaded-models of them. For
each count, in a fresh process (so one count's memory does not hide in another's), the fine-tunes are
loaded, each answers one short greedy request (which touches its buffers), and the process's memory is
read from /proc/self/smaps_rollup (RSS, and PSS, which counts a page mapped twice once):

- shared: caretune's llama.cpp engines as they load now: one base model and context for all, an adapter each;
- separate: each fine-tune a model, context and tokenizer of its own (how every engine loaded before);
- merged: each fine-tune a merged GGUF of its own (copies of one Q8_0 merge, which weigh what different
  merges weigh), as `--lora-mode merged` serves gated merges.

The extra memory of each fine-tune past the first, (mem(8) - mem(1)) / 7, is printed next to its adapter
GGUF's size: the target is an increment close to the adapter, not a model copy. Adapters are random, r=16
on every linear layer (what they hold does not change what they weigh).

    flock /work/bench.lock nice -n 10 python bench/many_models.py [--counts 1 4 8] [--modes shared separate merged]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "Customer: where is my parcel\nAgent:"


def memory_mb() -> dict[str, float]:
    """RSS and PSS of this process, in MB."""
    values = {}
    for line in Path("/proc/self/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        if key in ("Rss", "Pss"):
            values[key.lower()] = int(rest.split()[0]) / 1024
    return values


def make_runs(root: Path, count: int) -> list[Path]:
    """``count`` random LoRA runs on gemma-3-270m (made once, reused by every count and mode)."""
    from infer import make_random_run  # bench/ is on sys.path when run

    runs = []
    for seed in range(count):
        run = root / f"brand-{seed}"
        if not (run / "run.json").is_file():
            make_random_run(run, seed=seed)
        runs.append(run)
    return runs


def merged_copies(root: Path, runs: list[Path]) -> list[Path]:
    """One Q8_0 merge of the first run, copied once per run (each a file of its own, as distinct merges are)."""
    from caretune.export.run import export_run

    merged = runs[0] / "export" / "model-q8_0.gguf"
    if not merged.is_file():
        export_run(runs[0], "gguf-q8")
    copies = []
    for i in range(len(runs)):
        copy = root / f"merged-{i}.gguf"
        if not copy.is_file():
            shutil.copy(merged, copy)
        copies.append(copy)
    return copies


class Separate:
    """One fine-tune loaded as every engine loaded before sharing: its own tokenizer, model and context."""

    def __init__(self, run: Path, threads: int) -> None:
        from caretune.engines.gguf_files import gguf_files
        from caretune.engines.llamacpp_runtime import LlamaRuntime, RuntimeConfig
        from caretune.engines.loading import PROMPT_CACHE_MB
        from caretune.engines.params import MAX_CANDIDATES
        from caretune.engines.scheduler import Scheduler
        from caretune.models.registry import load_tokenizer
        from caretune.runs.refs import resolve_ref

        ref = resolve_ref(run)
        self.tokenizer = load_tokenizer(ref)
        model_path, lora_path = gguf_files(ref, lora_mode="adapter")
        config = RuntimeConfig(n_seq=MAX_CANDIDATES, n_cached=MAX_CANDIDATES, n_threads=threads)
        self.runtime = LlamaRuntime(model_path, config)
        self.scheduler = Scheduler(self.runtime, int(PROMPT_CACHE_MB * 2**20))
        self.adapter = self.scheduler.call(lambda: self.runtime.load_adapter(lora_path))

    def answer(self) -> None:
        from caretune.engines.candidate import Candidate
        from caretune.engines.llamacpp_runtime import LlamaVocab
        from caretune.engines.params import SamplingParams
        from caretune.engines.scheduler import Request

        ids = self.runtime.tokenize(PROMPT)
        candidate = Candidate(0, SamplingParams(temperature=0, max_tokens=8), LlamaVocab(self.runtime), 8)
        request = Request(PROMPT, ids, [candidate], False, queue.Queue(), adapter=self.adapter)
        for _ in self.scheduler.submit(request):
            pass


def child(mode: str, paths: list[Path], threads: int) -> dict[str, float]:
    """Load the fine-tunes, answer once with each; memory before and after, and the load time."""
    from caretune.engines.llamacpp_runtime import shorten_openmp_spin

    shorten_openmp_spin()
    from caretune.engines import SamplingParams, load_engine
    from caretune.runs.refs import resolve_ref
    import caretune.engines.llamacpp  # noqa: F401 - imports (torch, llama_cpp) are not the models' memory
    import transformers  # noqa: F401

    before = memory_mb()
    start = time.perf_counter()
    if mode == "separate":
        loaded = [Separate(path, threads) for path in paths]
    elif mode == "merged":  # paths: the run (its prompt format and tokenizer), then the merged files
        from caretune.engines.llamacpp import LlamaCppEngine

        run = resolve_ref(paths[0])
        loaded = [LlamaCppEngine(run.model_copy(update={"gguf_path": path}), n_threads=threads) for path in paths[1:]]
    else:
        loaded = [load_engine(path, engine="llamacpp", n_threads=threads, lora_mode="adapter") for path in paths]
    load_s = time.perf_counter() - start
    for engine in loaded:
        if isinstance(engine, Separate):
            engine.answer()
        else:
            engine.complete(PROMPT, SamplingParams(temperature=0, max_tokens=8))
    after = memory_mb()
    return {"load_s": load_s, **{k: after[k] - before[k] for k in after}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--modes", nargs="+", default=["shared", "separate", "merged"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="Keep the runs and merges here (default: a temporary dir).")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, *paths = args.child
        print(json.dumps(child(mode, [Path(p) for p in paths], args.threads)))
        return
    with tempfile.TemporaryDirectory(prefix="caretune-many-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        runs = make_runs(root, max(args.counts))
        adapter_mb = _adapter_mb(runs[0])
        print(f"load average at the start (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
        print(f"adapter GGUF (r=16, all projections): {adapter_mb:.1f} MB")
        for mode in args.modes:
            if mode == "merged":
                copies = merged_copies(root, runs)
                results = {n: _measure(mode, [runs[0], *copies[:n]], args.threads) for n in args.counts}
            else:
                results = {n: _measure(mode, runs[:n], args.threads) for n in args.counts}
            for n, r in results.items():
                print(f"{mode:9s} {n} fine-tunes: load {r['load_s']:6.2f} s   RSS +{r['rss']:7.1f} MB   "
                      f"PSS +{r['pss']:7.1f} MB")
            low, high = min(args.counts), max(args.counts)
            if high > low:
                step = {k: (results[high][k] - results[low][k]) / (high - low) for k in ("rss", "pss", "load_s")}
                print(f"{mode:9s} each fine-tune past the first: RSS +{step['rss']:.1f} MB, PSS +{step['pss']:.1f} "
                      f"MB, load {step['load_s']:.2f} s  (adapter {adapter_mb:.1f} MB)")
    print(f"load average at the end (1/5/15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")


def _adapter_mb(run: Path) -> float:
    from caretune.engines.gguf_files import gguf_files
    from caretune.runs.refs import resolve_ref

    return gguf_files(resolve_ref(run), lora_mode="adapter")[1].stat().st_size / 2**20


def _measure(mode: str, paths: list[Path], threads: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--threads", str(threads), "--child", mode, *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
