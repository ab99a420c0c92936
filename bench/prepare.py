"""Benchmark ``caretune prepare`` against a straightforward pandas reference on a 2.8M-row TWCS file.

The synthetic file (the real dump's size) is generated once and cached under ``bench/.cache/``. Both runs
happen in this one invocation, on the same machine state, each in its own subprocess so that the peak memory
(max RSS) of each is measured separately (``os.wait4`` returns the child's own resource usage).

    nice -n 10 python bench/prepare.py [--rows 2800000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache"


def pandas_reference(csv_path: Path, out: Path) -> int:
    """The baseline: pandas reads the CSV, tweets are indexed by id, each thread is walked in Python."""
    import pandas as pd

    df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    df["tweet_id"] = df["tweet_id"].astype(float).astype("int64")
    parents = pd.to_numeric(df["in_response_to_tweet_id"], errors="coerce")
    df["parent"] = parents.fillna(-1).astype("int64")
    tweets = df.set_index("tweet_id")[["author_id", "inbound", "text", "parent"]].to_dict("index")
    children: dict[int, list[int]] = defaultdict(list)
    for tweet_id, row in tweets.items():
        if row["parent"] in tweets:
            children[row["parent"]].append(tweet_id)
    roots = [t for t, row in tweets.items() if row["parent"] not in tweets]
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for root in roots:
            for path in _paths(root, children):
                example = _example(path, tweets)
                if example:
                    f.write(json.dumps(example, ensure_ascii=False) + "\n")
                    n += 1
    return n


def _paths(root: int, children: dict[int, list[int]]) -> list[list[int]]:
    """Every root-to-leaf path of a thread, by an explicit-stack depth-first walk."""
    paths, stack = [], [[root]]
    while stack:
        path = stack.pop()
        kids = children.get(path[-1], [])
        if not kids:
            paths.append(path)
        stack.extend(path + [k] for k in kids)
    return paths


def _example(path: list[int], tweets: dict) -> dict | None:
    """A chat example for one path: consecutive same-side tweets merged, needs an agent reply."""
    messages: list[dict] = []
    brand = None
    for tweet_id in path:
        row = tweets[tweet_id]
        role = "user" if row["inbound"] == "True" else "assistant"
        if role == "assistant" and brand is None:
            brand = row["author_id"]
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"] += " " + row["text"]
        else:
            messages.append({"role": role, "content": row["text"]})
    while messages and messages[0]["role"] == "assistant":
        messages.pop(0)
    while messages and messages[-1]["role"] == "user":
        messages.pop()
    if not messages:
        return None
    system = {"role": "system", "content": f"You are a customer support agent for {brand}."}
    return {"messages": [system, *messages], "metadata": {"brand": brand, "thread_id": str(path[0])}}


def _timed_child(args: list[str]) -> tuple[float, float, float]:
    """Run a subprocess: its wall time, CPU seconds (user + system) and peak RSS in GiB.

    ``wait4`` gives that child's own resource usage. CPU seconds are printed too because on a shared
    machine the wall-clock ratio moves with the load, and the CPU ratio much less.
    """
    start = time.perf_counter()
    process = subprocess.Popen(args)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(args[:2])} failed with exit code {process.returncode}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 2**20


def main() -> None:
    """Generate (once), then time caretune prepare and the pandas reference, and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_800_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pandas-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pandas_only:
        print(f"pandas reference wrote {pandas_reference(args.csv, args.out)} examples")
        return
    csv_path = _cached_csv(args.rows, args.seed)
    out = CACHE / "out"
    caretune = [str(Path(sys.executable).parent / "caretune"), "prepare", str(csv_path), "--out", str(out / "caretune")]
    t_caretune, cpu_caretune, rss_caretune = _timed_child(caretune)
    (out / "pandas").mkdir(parents=True, exist_ok=True)
    reference = [
        sys.executable,
        __file__,
        "--pandas-only",
        "--csv",
        str(csv_path),
        "--out",
        str(out / "pandas" / "all.jsonl"),
    ]
    t_pandas, cpu_pandas, rss_pandas = _timed_child(reference)
    print(f"rows: {args.rows:,}  file: {csv_path} ({csv_path.stat().st_size / 2**20:.0f} MiB)")
    print(f"caretune prepare (clean + anonymise + split + write): {_figures(t_caretune, cpu_caretune, rss_caretune)}")
    print(f"pandas reference (read + index + walk + write):        {_figures(t_pandas, cpu_pandas, rss_pandas)}")
    verdict = "<" if rss_caretune < 4 else ">="
    print(f"speed-up: {t_pandas / t_caretune:.2f}x wall (target >= 2x), {cpu_pandas / cpu_caretune:.2f}x CPU")
    print(f"caretune peak RSS {rss_caretune:.2f} GiB {verdict} 4 GiB; load average now {os.getloadavg()[0]:.1f}")


def _figures(wall: float, cpu: float, rss: float) -> str:
    """One run's figures on one line."""
    return f"{wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:.2f} GiB"


def _cached_csv(rows: int, seed: int) -> Path:
    """The synthetic TWCS file for ``rows`` and ``seed``, generated the first time only."""
    path = CACHE / f"twcs-synthetic-{rows}-seed{seed}.csv"
    if not path.exists():
        from caretune.data.synth import write_synthetic_twcs

        start = time.perf_counter()
        write_synthetic_twcs(path, rows, seed)
        print(f"generated {path.name} in {time.perf_counter() - start:.1f} s")
    return path


if __name__ == "__main__":
    main()
