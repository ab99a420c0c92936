"""Benchmark the knowledge step: how well retrieval finds the right policy, what it costs per answer, and what
three passages in the prompt cost the answer's time to first token.

  1. recall@1 and @3 of the right policy on the held-out demo turns, lexical (BM25) vs dense (MiniLM) vs
     hybrid (reciprocal rank fusion), on a base of the shop's 15 policies; the right policy of a turn is the
     one whose every fact the real agent reply states (turns that state one policy exactly). Also with the
     past conversations of the training split indexed beside the policies, where a hit is any passage whose
     text states the right policy's facts.
  2. the time one search takes (query embedding, BM25, FAISS, fusion) on a base of at least --chunks chunks
     (the demo's and a synthetic TWCS set's past conversations), median and 95th percentile; target 20 ms.
     Queried as answers are (``search_query``: the last customer message, with the one before when it is
     short), and, as a heavier load, by the last 300 characters of all the customer's messages.
  3. time to first token of the real Gemma 3 270M (llama.cpp) answering demo questions with three passages
     in the prompt against the same question without, paired: each question both ways in turn, order
     alternating.
  4. what the hand-off decision adds to a grounded answer: its own work (the triggers, the signals of the
     passages retrieval already found for the prompt, the calibrated confidence) against the answer's time
     to first token and to its last token; target: at most 10 %.

    python bench/knowledge.py [--chunks 10000] [--queries 300] [--ttft-questions 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".cache" / "knowledge"


def prepared_demo() -> Path:
    """The demo log prepared as `caretune prepare` does (cached)."""
    from caretune.data.demo import demo_csv_path
    from caretune.data.prepare import PrepareConfig, prepare

    out = CACHE / "demo-data"
    if not (out / "test.jsonl").is_file():
        prepare(PrepareConfig(inputs=[demo_csv_path()], out=out), progress=False)
    return out


def policy_base(extra: list[Path], name: str):
    """A knowledge base of the shop's policies (and ``extra`` files), built once."""
    from caretune.data.demo import demo_knowledge_dir
    from caretune.knowledge import KnowledgeBase

    kb = KnowledgeBase(CACHE / name, create=True)
    kb.add([demo_knowledge_dir(), *extra])
    return kb


def labelled_turns(data: Path) -> list[tuple[list[dict], str]]:
    """(history, right policy) of each held-out turn whose reply states exactly one policy's facts."""
    from caretune.data.demo import POLICIES
    from caretune.evaluation.turns import load_turns

    labelled = []
    for turn in load_turns(data / "test.jsonl"):
        reply = (turn.reference or "").lower()
        topics = [t for t, p in POLICIES.items() if all(f.lower() in reply for f in p.facts)]
        if len(topics) == 1:
            labelled.append((turn.history, topics[0]))
    return labelled


def recall(kb, turns: list[tuple[list[dict], str]], mode: str) -> tuple[float, float]:
    """recall@1 and @3: a passage counts when its text states every fact of the turn's right policy."""
    from caretune.data.demo import POLICIES
    from caretune.knowledge import search, search_query

    at1 = at3 = 0
    for history, topic in turns:
        passages = search(kb, search_query(history), 3, mode=mode)
        hits = [all(f.lower() in p.text.lower() for f in POLICIES[topic].facts) for p in passages]
        at1 += bool(hits[:1] and hits[0])
        at3 += any(hits)
    return at1 / len(turns), at3 / len(turns)


def large_base(target: int, demo: Path):
    """A base of at least ``target`` chunks: the policies and the past conversations of two prepared logs."""
    from caretune.data.prepare import PrepareConfig, prepare
    from caretune.data.synth import write_synthetic_twcs

    twcs = CACHE / "twcs-data"
    if not (twcs / "train.jsonl").is_file():
        csv = CACHE / "twcs.csv"
        write_synthetic_twcs(csv, 30_000, seed=7)
        prepare(PrepareConfig(inputs=[csv], out=twcs), progress=False)
    kb = policy_base([demo / "train.jsonl", twcs / "train.jsonl", twcs / "valid.jsonl"], "large")
    if len(kb) < target:
        raise SystemExit(f"only {len(kb)} chunks indexed; ask for --chunks {len(kb)} or fewer")
    return kb


def search_times(kb, queries: list[str]) -> list[float]:
    """Seconds per search, after one untimed search that loads the embedder and the index."""
    from caretune.knowledge import search

    search(kb, "warm up", 3)
    times = []
    for query in queries:
        start = time.perf_counter()
        search(kb, query, 3)
        times.append(time.perf_counter() - start)
    return times


def ttft_pairs(kb_path: Path, questions: list[str]) -> list[tuple[float, float]]:
    """(TTFT with three passages, TTFT without) per question, the two orders alternating."""
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")  # as caretune serves (set before torch and llama_cpp load)
    from caretune.answering import prepare_answer
    from caretune.engines import SamplingParams, load_engine
    from caretune.runs.info import KnowledgeSettings

    engine = load_engine("gemma-3-270m", engine="llamacpp")
    grounded = KnowledgeSettings(path=str(kb_path), passages=3)
    params = SamplingParams(max_tokens=1, temperature=0)

    def first_token(question: str, knowledge) -> float:
        start = time.perf_counter()
        answer = prepare_answer(engine, [{"role": "user", "content": question}], knowledge, 64)
        next(e for e in engine.stream(answer.prompt, params) if e.text or e.finish_reason)
        return time.perf_counter() - start

    first_token(questions[0], grounded)
    first_token(questions[0], None)
    pairs = []
    for i, question in enumerate(questions):
        if i % 2:
            without, with_kb = first_token(question, None), first_token(question, grounded)
        else:
            with_kb, without = first_token(question, grounded), first_token(question, None)
        pairs.append((with_kb, without))
    engine.close()
    return pairs


def decision_costs(kb_path: Path, questions: list[str]) -> list[tuple[float, float, float]]:
    """(decision, time to first token, whole answer) in seconds per question; the decision is timed on its
    own (median of 20 runs), since it is microseconds inside a call of hundreds of milliseconds."""
    os.environ.setdefault("GOMP_SPINCOUNT", "1000")
    import numpy as np

    from caretune.answering import prepare_answer
    from caretune.answering.decision import DOMAIN, NEAREST, NEIGHBOURS, SIGNALS, decide
    from caretune.engines import SamplingParams, load_engine
    from caretune.knowledge import embed_query, nearness_to, open_knowledge, search_query
    from caretune.knowledge.embeddings import DIMENSION
    from caretune.runs.info import DomainSettings, HandoffSettings, KnowledgeSettings, NeighbourSettings

    engine = load_engine("gemma-3-270m", engine="llamacpp")
    grounded = KnowledgeSettings(path=str(kb_path), passages=3)
    # every signal, the learnt ones too (against 300 other questions): whatever the values, the cost is the same
    others = np.random.default_rng(0).standard_normal((300, DIMENSION))
    settings = HandoffSettings(
        features=[*SIGNALS, DOMAIN, NEIGHBOURS], weights=[1.0] * (len(SIGNALS) + 2),
        domain=DomainSettings(weights=[0.0] * DIMENSION), neighbours=NeighbourSettings.of(others),
    )
    kb = open_knowledge(kb_path)
    params = SamplingParams(max_tokens=64, temperature=0)
    costs = []
    for question in questions:
        messages = [{"role": "user", "content": question}]
        start = time.perf_counter()
        answer = prepare_answer(engine, messages, grounded, 64, settings)
        first = None
        for event in engine.stream(answer.prompt, params):
            first = first or time.perf_counter()
        end = time.perf_counter()
        query = search_query(messages)
        vector = embed_query(query)  # computed once per answer for search, which the decision reads too
        runs = []
        for _ in range(20):
            t0 = time.perf_counter()
            # the decision's own work: the nearness to the knowledge is searched only for it
            decide(messages, query, answer.passages, settings, vector, nearness_to(kb, vector, NEAREST))
            runs.append(time.perf_counter() - t0)
        costs.append((statistics.median(runs), (first or end) - start, end - start))
    engine.close()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--ttft-questions", type=int, default=30)
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3, 4], help="Which of the four to run.")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    demo = prepared_demo()
    turns = labelled_turns(demo)
    with_past = policy_base([demo / "train.jsonl"], "policies-and-past")
    questions = [q for h, _ in turns[: args.ttft_questions] for q in [h[-1]["content"]]]
    if 1 in args.parts:
        print(f"1. recall of the right policy on {len(turns)} held-out demo turns")
        print(f"   {'base':<38} {'mode':<8} recall@1 recall@3")
        policies = policy_base([], "policies")
        for label, kb in (("policies (15 chunks)", policies), (f"policies + past answers ({len(with_past)})", with_past)):
            for mode in ("lexical", "dense", "hybrid"):
                at1, at3 = recall(kb, turns, mode)
                print(f"   {label:<38} {mode:<8} {at1:8.3f} {at3:8.3f}")
    if 2 in args.parts:
        from caretune.knowledge import search_query

        kb = large_base(args.chunks, demo)
        histories = [h for h, _ in turns][: args.queries]
        print(f"2. one search on {len(kb)} chunks, {len(histories)} queries (target: at most 20 ms)")
        for label, queries in (
            ("as answers query (search_query)", [search_query(h) for h in histories]),
            ("all customer messages, 300 chars", [" ".join(m["content"] for m in h if m["role"] == "user")[-300:]
                                                  for h in histories]),
        ):
            times = sorted(search_times(kb, queries))
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"   {label:<34} median {statistics.median(times) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
                  f"(queries of {statistics.median(map(len, queries)):.0f} characters, median)")
    if 3 in args.parts:
        pairs = ttft_pairs(with_past.path, questions)
        ratios = [a / b for a, b in pairs]
        print(f"3. time to first token, {len(pairs)} demo questions, Gemma 3 270M on llama.cpp: with three passages "
              f"median {statistics.median(a for a, _ in pairs) * 1000:.0f} ms, without "
              f"{statistics.median(b for _, b in pairs) * 1000:.0f} ms; paired ratio median "
              f"{statistics.median(ratios):.2f}x (quartiles {statistics.quantiles(ratios, n=4)[0]:.2f}-"
              f"{statistics.quantiles(ratios, n=4)[2]:.2f})")
    if 4 in args.parts:
        costs = decision_costs(with_past.path, questions)
        decision, ttft, whole = (statistics.median(c[i] for c in costs) for i in range(3))
        print(f"4. the hand-off decision, {len(costs)} grounded answers: {decision * 1000:.2f} ms of its own, against "
              f"{ttft * 1000:.0f} ms to the first token ({decision / ttft:.1%}) and {whole * 1000:.0f} ms to the last "
              f"({decision / whole:.1%}); target: at most 10 %")


if __name__ == "__main__":
    main()
