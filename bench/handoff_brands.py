"""Does the hand-off tell a company's own customers from other companies'? On prepared multi-brand data (the
real IBM TWCS set: ``caretune prepare ../shared/data/twcs-ibm-customer-care-dev.csv --out DIR``), half the
brands (seeded) are the bot's: its knowledge base is their training conversations, its past questions their
training turns' (each searched without its own conversation), its in-domain questions their held-out (valid +
test) turns; the other brands' customers' messages are off-domain. With ``--one-brand``, each brand with
enough held-out turns is a bot of its own instead, as a company deploys one. Prints, for each split of the
brands, the calibration (``caretune.evaluation.handoff``) against the other brands' questions: the
out-of-fold AUROC, each signal's (``domain`` and ``neighbours``: the learnt signals), the rates at the
calibrated threshold, and the share of the bot's questions the confidence clears when 90%, 95% or 99% of
the others' are handed over. With ``--negatives FILE``, also what a deployment gets: calibrated against that
file's questions (none of them the test brands'), then the other brands' customers are scored with the
served settings, beside the bot's own held-out questions' out-of-fold scores.

    python bench/handoff_brands.py --data DIR [--seeds 0 1 2 3 4] [--one-brand] [--negatives FILE] [--retrieval-only]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from caretune.evaluation.handoff import FOLDS, calibrate, served_confidence
from caretune.evaluation.questions import load_questions
from caretune.evaluation.turns import Turn, asked, conversations, example_turns, load_turns
from caretune.knowledge import KnowledgeBase, search_query
from caretune.runs.info import KnowledgeSettings


def _brand(example) -> str:  # noqa: ANN001
    return (example.metadata or {}).get("brand", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--one-brand", action="store_true", help="a bot per brand instead of half the brands")
    parser.add_argument(
        "--negatives", type=Path, help="questions file: also calibrate against these as the others' questions "
        "(what a deployment has: e.g. the demo's off_domain_questions.jsonl) and score the other brands' with it"
    )
    parser.add_argument("--retrieval-only", action="store_true", help="no learnt signals: retrieval's alone")
    args = parser.parse_args()
    negatives = asked(load_questions(args.negatives)) if args.negatives else None
    train = [e for e, _ in conversations(args.data / "train.jsonl")]
    # with their origins: a conversation's turns stay in one calibration fold
    held_out = conversations(args.data / "valid.jsonl") + conversations(args.data / "test.jsonl")
    brands = sorted({_brand(e) for e in train + [e for e, _ in held_out]})
    if args.one_brand:
        turns = Counter(_brand(e) for e, _ in held_out for _ in example_turns(e))
        for brand in brands:
            if turns[brand] >= FOLDS:  # the out-of-fold calibration needs a question of its own in every fold
                split(train, held_out, {brand}, brand, 0, negatives, not args.retrieval_only)
        return
    for seed in args.seeds:
        ours = set(random.Random(seed).sample(brands, len(brands) // 2))
        split(train, held_out, ours, f"seed {seed}", seed, negatives, not args.retrieval_only)


def split(
    train: list, held_out: list, ours: set[str], label: str, seed: int, negatives: list[Turn] | None, learnt: bool
) -> None:
    """``ours`` are the bot's brands; print the calibration against the other brands (and, given
    ``negatives``, the deployment's: calibrated on them, tested on the other brands)."""
    in_domain = [t for e, origin in held_out if _brand(e) in ours for t in example_turns(e, origin)]
    everyone = train + [e for e, _ in held_out]
    off_domain = asked(
        [search_query(t.history) for e in everyone if _brand(e) not in ours for t in example_turns(e)[:1]]
    )
    with tempfile.TemporaryDirectory() as tmp:
        own_train = Path(tmp) / "train.jsonl"
        own_train.write_text(
            "".join(e.model_dump_json(exclude_none=True) + "\n" for e in train if _brand(e) in ours), encoding="utf-8"
        )
        kb = KnowledgeBase(Path(tmp) / "kb", create=True)
        kb.add([own_train])
        knowledge = KnowledgeSettings(path=str(kb.path))
        past = load_turns(own_train) if learnt else []
        report = calibrate(in_domain, off_domain, knowledge, seed, past=past)
        print(f"{label}: bot's brands ({len(ours)}): {', '.join(sorted(ours))}; knowledge: {len(kb)} chunks")
        print(json.dumps(report.model_dump(exclude={"settings", "risk_coverage", "quality_all", "quality_answered"})))
        print(f"{label}: AUROC served, against the other brands {report.auroc:.3f}")
        cleared = ", ".join(f"{share:.1%} at {refuse:.0%}" for refuse, share in report.cleared_at.items())
        print(f"{label}: own questions the confidence clears, by share of the others handed over: {cleared}")
        if negatives:
            deployed(label, calibrate(in_domain, negatives, knowledge, seed, past=past), off_domain, knowledge)


def deployed(label: str, report, others: list[Turn], knowledge: KnowledgeSettings) -> None:  # noqa: ANN001
    """The bot's own held-out questions (out of fold) against the other brands' customers scored as served, by
    a calibration that never saw a question of theirs."""
    own_scores = np.array(report.out_of_fold[: report.n_in_domain])
    other_scores = served_confidence(report.settings, others, knowledge)
    y = np.array([1] * len(own_scores) + [0] * len(other_scores))
    auroc = roc_auc_score(y, np.concatenate([own_scores, other_scores]))
    threshold = report.settings.threshold
    print(f"{label}: calibrated on --negatives, tested on the other brands: AUROC {auroc:.3f}; at its threshold "
          f"{threshold:.3f} own answered {np.mean(own_scores >= threshold):.1%}, "
          f"other brands handed over {np.mean(other_scores < threshold):.1%}")


if __name__ == "__main__":
    main()
