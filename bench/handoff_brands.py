"""Does the hand-off tell a company's own customers from other companies'? On prepared multi-brand data (the
real IBM TWCS set: ``caretune prepare ../shared/data/twcs-ibm-customer-care-dev.csv --out DIR``), half the
brands (seeded) are the bot's: its knowledge base is their training conversations, its in-domain questions
their held-out (valid + test) turns; the other brands' customers' messages are off-domain. With
``--one-brand``, each brand with enough held-out turns is a bot of its own instead, as a company deploys one.
Prints the out-of-fold AUROC, each signal's, and the rates at the calibrated threshold
(``caretune.evaluation.handoff``), for each split of the brands. Beside it, the alternative that was measured
and not served: a logistic regression on the question's MiniLM embedding, the bot's own past questions
against the other brands' (out of fold too), and with ``--negatives FILE`` against that file's questions.

    python bench/handoff_brands.py --data DIR [--seeds 0 1 2 3 4] [--one-brand] [--negatives FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import Counter
from pathlib import Path

from caretune.evaluation.handoff import FOLDS, calibrate
from caretune.evaluation.questions import load_questions
from caretune.evaluation.turns import Turn, example_turns, read_chat_examples
from caretune.knowledge import KnowledgeBase
from caretune.runs.info import KnowledgeSettings


def _brand(example) -> str:  # noqa: ANN001
    return (example.metadata or {}).get("brand", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--one-brand", action="store_true", help="a bot per brand instead of half the brands")
    parser.add_argument(
        "--negatives", type=Path, help="questions file: also fit the embedding classifier on these as the others' "
        "questions (what a deployment has: e.g. the demo's off_domain_questions.jsonl), not on the other brands'"
    )
    args = parser.parse_args()
    negatives = load_questions(args.negatives) if args.negatives else None
    train = read_chat_examples(args.data / "train.jsonl")
    held_out = read_chat_examples(args.data / "valid.jsonl") + read_chat_examples(args.data / "test.jsonl")
    brands = sorted({_brand(e) for e in train + held_out})
    if args.one_brand:
        turns = Counter(_brand(e) for e in held_out for _ in example_turns(e))
        for brand in brands:
            if turns[brand] >= FOLDS:  # the out-of-fold calibration needs a question of its own in every fold
                split(train, held_out, {brand}, brand, 0, negatives)
        return
    for seed in args.seeds:
        ours = set(random.Random(seed).sample(brands, len(brands) // 2))
        split(train, held_out, ours, f"seed {seed}", seed, negatives)


def split(
    train: list, held_out: list, ours: set[str], label: str, seed: int, negatives: list[str] | None
) -> None:
    """``ours`` are the bot's brands; print the calibration and the embedding classifier's AUROC (also fitted
    on ``negatives``, when given)."""
    with tempfile.TemporaryDirectory() as tmp:
        own_train = Path(tmp) / "train.jsonl"
        own_train.write_text(
            "".join(e.model_dump_json(exclude_none=True) + "\n" for e in train if _brand(e) in ours), encoding="utf-8"
        )
        kb = KnowledgeBase(Path(tmp) / "kb", create=True)
        kb.add([own_train])
        in_domain = [t for e in held_out if _brand(e) in ours for t in example_turns(e)]
        off_domain = [
            Turn(history=[m for m in t.history if m["role"] != "system"][:1])
            for e in train + held_out if _brand(e) not in ours for t in example_turns(e)[:1]
        ]
        report = calibrate(in_domain, off_domain, KnowledgeSettings(path=str(kb.path)), seed)
        chunks = len(kb)
    own_questions = [t for e in train if _brand(e) in ours for t in example_turns(e)]
    print(f"{label}: bot's brands ({len(ours)}): {', '.join(sorted(ours))}; knowledge: {chunks} chunks")
    print(json.dumps(report.model_dump(exclude={"settings", "risk_coverage", "quality_all", "quality_answered"})))
    against_others, against_negatives = embedding_aurocs(own_questions, in_domain, off_domain, seed, negatives)
    print(f"{label}: AUROC served (retrieval signals) {report.auroc:.3f}; embedding classifier {against_others:.3f}")
    if against_negatives is not None:
        print(f"{label}: embedding classifier fitted on --negatives {against_negatives:.3f}")


def embedding_aurocs(
    own: list[Turn], in_domain: list[Turn], off_domain: list[Turn], seed: int, negatives: list[str] | None
) -> tuple[float, float | None]:
    """AUROC of a classifier on the question's embedding, positives the bot's own past questions: out of fold
    with the other brands' questions of the training folds as negatives, and with ``negatives`` (questions of
    no test brand, what a deployment has) when given."""
    import numpy as np
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    from caretune.knowledge import search_query
    from caretune.knowledge.embeddings import get_embedder

    embed = get_embedder().encode
    positives = embed([search_query(t.history) for t in own])
    asked = embed([search_query(t.history) for t in [*in_domain, *off_domain]])
    y = np.array([1] * len(in_domain) + [0] * len(off_domain))
    scores = np.zeros(len(y))
    for fit, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(asked, y):
        others = asked[[i for i in fit if y[i] == 0]]
        scores[test] = _classifier(positives, others).predict_proba(asked[test])[:, 1]
    fitted = _classifier(positives, embed(negatives)).predict_proba(asked)[:, 1] if negatives else None
    return float(roc_auc_score(y, scores)), None if fitted is None else float(roc_auc_score(y, fitted))


def _classifier(positives, negatives):  # noqa: ANN001, ANN202 - arrays in, a scikit-learn model out
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    labels = np.array([1] * len(positives) + [0] * len(negatives))
    return LogisticRegression(class_weight="balanced", max_iter=2000).fit(np.vstack([positives, negatives]), labels)


if __name__ == "__main__":
    main()
