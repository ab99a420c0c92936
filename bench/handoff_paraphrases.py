"""Does the calibrated hand-off answer the company's customers who word a question unlike the past ones?

The demo's held-out turns repeat training questions almost word for word, so a threshold fitted on them can
sit where a paraphrase already falls below it. On the demo's prepared data and knowledge base, the hand-off
is calibrated as ``caretune eval --off-domain`` does (held-out turns against the built-in off-domain
messages, out of fold, the training split's questions among the bot's own) for each
share of off-domain questions to hand over (``--handoff-refused``); then the served confidence, with the
threshold and weights written into the run, is applied to questions the calibration never saw:

  - the 30 paraphrased fact questions (``data/demo/fact_questions.jsonl``) and the README's demo questions:
    the company's own, share answered;
  - --off-domain (default: none), e.g. the 290 real messages of ``../shared/data``: share handed over.

Also the similarity to the nearest passage of each kind of question (median and range).

    python bench/handoff_paraphrases.py --data demo-out/data --kb demo-out/knowledge [--off-domain real.jsonl]
        [--refused 0.9 0.95 0.99] [--retrieval-only]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from caretune.answering.decision import SIGNALS
from caretune.data.demo import demo_fact_questions_path, demo_off_domain_path, demo_questions
from caretune.evaluation.handoff import calibrate, question_signals, served_confidence
from caretune.evaluation.questions import load_question_rows
from caretune.evaluation.turns import asked, load_turns
from caretune.runs.info import KnowledgeSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="The demo's prepared directory (test.jsonl).")
    parser.add_argument("--kb", type=Path, required=True, help="The demo's knowledge base.")
    parser.add_argument("--off-domain", type=Path, help="Other companies' customers' messages (JSONL or CSV).")
    parser.add_argument("--refused", type=float, nargs="+", default=[0.9, 0.95, 0.99])
    parser.add_argument("--retrieval-only", action="store_true", help="No learnt signals: retrieval's alone.")
    args = parser.parse_args()

    knowledge = KnowledgeSettings(path=str(args.kb))
    held_out = load_turns(args.data / "test.jsonl")
    past = [] if args.retrieval_only else load_turns(args.data / "train.jsonl")
    builtin_off = asked([q.text for q in load_question_rows(demo_off_domain_path())])
    groups = {
        "fact questions": asked([json.loads(line)["question"] for line in demo_fact_questions_path().open()]),
        "README questions": asked([q.question for q in demo_questions()]),
    }
    if args.off_domain:
        groups["--off-domain"] = asked([q.text for q in load_question_rows(args.off_domain)])
    signals = {name: question_signals(turns, knowledge) for name, turns in groups.items()}
    signals["held-out turns"] = question_signals(held_out, knowledge)
    for name, values in signals.items():
        sims = np.array([s.similarity for s in values])
        print(f"{name:16s} {len(sims):4d} questions, nearest passage similarity median {np.median(sims):.2f} "
              f"(range {sims.min():.2f}-{sims.max():.2f})")
    for refused in args.refused:
        report = calibrate(held_out, builtin_off, knowledge, refuse=refused, past=past)
        settings = report.settings
        shares = []
        for name, turns in groups.items():
            answered = float(np.mean(served_confidence(settings, turns, knowledge) >= settings.threshold))
            # other companies' questions should be handed over, the company's own answered
            shares.append(f"{name} handed over {1 - answered:.1%}" if name == "--off-domain"
                          else f"{name} answered {answered:.1%}")
        learnt = ", ".join(settings.features[len(SIGNALS):]) or "none"
        print(f"hand over {refused:.0%} of the built-in off-domain: threshold {settings.threshold:.3f}, learnt "
              f"signals served: {learnt}; out of fold AUROC {report.auroc:.3f}, "
              f"held-out answered {report.in_domain_answered:.1%}, built-in handed over "
              f"{report.off_domain_refused:.1%}; " + ", ".join(shares))


if __name__ == "__main__":
    main()
