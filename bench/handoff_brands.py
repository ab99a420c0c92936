"""Does the hand-off tell a company's own customers from other companies'? On prepared multi-brand data (the
real IBM TWCS set: ``caretune prepare ../shared/data/twcs-ibm-customer-care-dev.csv --out DIR``), half the
brands (seeded) are the bot's: its knowledge base is their training conversations, its in-domain questions
their held-out (valid + test) turns; the other brands' customers' messages are off-domain. Prints the
out-of-fold AUROC, each signal's, and the rates at the equal-error threshold (``caretune.evaluation.handoff``).

    python bench/handoff_brands.py --data DIR [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from caretune.evaluation.handoff import calibrate
from caretune.evaluation.turns import Turn, example_turns, read_chat_examples
from caretune.knowledge import KnowledgeBase
from caretune.runs.info import KnowledgeSettings


def _brand(example) -> str:  # noqa: ANN001
    return (example.metadata or {}).get("brand", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train = read_chat_examples(args.data / "train.jsonl")
    held_out = read_chat_examples(args.data / "valid.jsonl") + read_chat_examples(args.data / "test.jsonl")
    brands = sorted({_brand(e) for e in train + held_out})
    ours = set(random.Random(args.seed).sample(brands, len(brands) // 2))
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
        report = calibrate(in_domain, off_domain, KnowledgeSettings(path=str(kb.path)), args.seed)
        chunks = len(kb)
    print(f"bot's brands ({len(ours)}): {', '.join(sorted(ours))}; knowledge: {chunks} chunks")
    print(json.dumps(report.model_dump(exclude={"settings", "risk_coverage", "quality_all", "quality_answered"}),
                     indent=1))


if __name__ == "__main__":
    main()
