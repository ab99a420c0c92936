"""How far ahead of retrieval can a reply in the agents' own words be on the demo's held-out turns? A bound.

The demo's agents answer from templates: a random greeting, an apology when the customer is angry, one of a
policy's few wordings drawn at random, and sometimes a request for the order number. No system can know
which draw the held-out agent made. The oracle here knows what no system does, each turn's right policy and
whether the agent apologised, and answers with the training reply of that kind that scores best, on average,
against all the training replies of that kind (for each metric its own best). A fine-tune that writes like
the agents is at best this oracle. Printed paired against the retrieval baseline of ``caretune eval`` (the
reply of the nearest training question), scored per turn as ``caretune eval`` scores, on the same sample of
turns as ``caretune eval --limit N --seed S`` and on all of them.

    python bench/demo_ceiling.py --data DIR [--limit 250] [--seed 0]

DIR is the demo log prepared by ``caretune prepare`` (``scripts/demo.sh`` writes ``demo-out/data``).
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from caretune.data.demo import phrasing
from caretune.evaluation.metrics import rouge_l
from caretune.evaluation.paired import paired_diff
from caretune.evaluation.retrieval import RetrievalIndex
from caretune.evaluation.scoring import rouge_per_turn
from caretune.evaluation.turns import Turn, load_turns
from caretune.knowledge.embeddings import get_embedder

# Training replies of one kind that a candidate's expected score is averaged over.
SAMPLE = 100
Kind = tuple[str, bool]  # the policy (or "welcome" for the answer to a thanks), and whether it apologises


class Metric(NamedTuple):
    """A metric two ways: every candidate against every drawn reply (to pick the best), and per turn, each
    reply against its own reference, as ``caretune eval`` scores it."""

    table: Callable[[list[str], list[str]], np.ndarray]
    per_turn: Callable[[list[str], list[str]], list[float]]


def semantic_table(a: list[str], b: list[str]) -> np.ndarray:
    embed = get_embedder().encode
    return embed(a) @ embed(b).T


def rouge_table(a: list[str], b: list[str]) -> np.ndarray:
    return np.array([[rouge_l(x, y) for y in b] for x in a])


METRICS = {
    "semantic similarity": Metric(semantic_table, lambda a, b: get_embedder().pair_similarity(a, b)),
    "ROUGE-L F1": Metric(rouge_table, rouge_per_turn),
}


def kind_of(reply: str) -> Kind | None:
    """Which template a demo reply was written from; None for a reply of none."""
    apologises = any(a in reply for a in phrasing.APOLOGIES)
    for policy, wordings in phrasing.ANSWERS.items():
        if any(w in reply for w in wordings):
            return policy, apologises
    return ("welcome", False) if any(w in reply for w in phrasing.WELCOMES) else None


def best_replies(train: list[Turn], metric: Metric) -> dict[Kind, str]:
    """For each kind, the training reply with the highest mean ``metric`` against that kind's training replies."""
    by_kind: dict[Kind, list[str]] = defaultdict(list)
    for turn in train:
        kind = kind_of(turn.reference or "")
        if kind:
            by_kind[kind].append(turn.reference or "")
    best = {}
    for kind, replies in by_kind.items():
        candidates = sorted(set(replies))
        drawn = replies if len(replies) <= SAMPLE else random.Random(0).sample(replies, SAMPLE)
        best[kind] = candidates[int(metric.table(candidates, drawn).mean(axis=1).argmax())]
    return best


def compare(label: str, turns: list[Turn], train: list[Turn], best: dict[str, dict[Kind, str]]) -> None:
    """Print the oracle against retrieval on ``turns``, paired, on each metric."""
    references = [t.reference or "" for t in turns]
    kinds = [kind_of(r) for r in references]
    retrieved = RetrievalIndex(train, get_embedder()).answer([t.history for t in turns])
    print(f"{label}: {len(turns)} turns, {sum(k is None for k in kinds)} of no known template")
    for name, metric in METRICS.items():
        # a reference of no known kind keeps retrieval's reply, so it counts for neither side
        oracle = [best[name].get(k, r) if k else r for k, r in zip(kinds, retrieved)]
        ours, theirs = metric.per_turn(oracle, references), metric.per_turn(retrieved, references)
        d = paired_diff("oracle", "retrieval", name, ours, theirs)
        print(f"  {name}: oracle {np.mean(ours):.3f}, retrieval {np.mean(theirs):.3f}, difference "
              f"{d.mean_diff:+.3f} ({d.low:+.3f} … {d.high:+.3f}), better/worse turns {d.better}/{d.worse}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train = load_turns(args.data / "train.jsonl")
    best = {name: best_replies(train, metric) for name, metric in METRICS.items()}
    test = args.data / "test.jsonl"
    compare(f"sample (--limit {args.limit} --seed {args.seed})", load_turns(test, args.limit, args.seed), train, best)
    compare("all held-out turns", load_turns(test), train, best)


if __name__ == "__main__":
    main()
