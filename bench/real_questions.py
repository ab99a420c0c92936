"""Write the off-domain question set the evaluation figures use: 300 real customers' messages to other
companies, sampled (seeded) from ``../shared/data/`` (140 BANKING77 questions, 140 tweets to @SpotifyCares,
20 customer tweets of the TWCS sample). The messages stay outside the repository; only this recipe is kept.

    python bench/real_questions.py --out real-300.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
PICKS = {"banking77-train.csv": 140, "twcs-spotifycares-inbound.csv": 140, "twcs-kaggle-sample.csv": 20}


def _texts(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    inbound = [r for r in rows if r.get("inbound", "True") == "True"]  # BANKING77 has no such column
    return [r["text"] for r in inbound if r["text"].strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("real-300.jsonl"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    picked = [t for name, n in PICKS.items() for t in rng.sample(_texts(SHARED / name), n)]
    args.out.write_text("".join(json.dumps({"text": t}) + "\n" for t in picked), encoding="utf-8")
    print(f"{len(picked)} messages -> {args.out}")


if __name__ == "__main__":
    main()
