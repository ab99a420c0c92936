#!/usr/bin/env bash
# The README's main command: set up (if needed), then run caretune end to end on the built-in demo data:
# prepare -> validate -> knowledge base -> fine-tune Gemma 3 270M to answer from it -> calibrate when it hands
# over to a person -> base vs fine-tune side by side (the last question is another company's) -> serve API +
# chat app.
# Safe to run twice: a finished fine-tune is reused (delete runs/demo to train again).
# Knobs: CARETUNE_DEMO_STEPS (training steps, default 40), CARETUNE_DEMO_SERVE=0 (stop before serving),
#        CARETUNE_DEMO_PORT (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's time is printed after it, and all of them before serving.
timings=() clock=$SECONDS
took() {
  timings+=("$1 $((SECONDS - clock)) s")
  echo "   ($1 took $((SECONDS - clock)) s)"
  clock=$SECONDS
}

bash scripts/setup.sh
took setup
. "${CARETUNE_VENV:-.venv}/bin/activate"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

demo_csv="$(python -c 'from caretune.data.demo import demo_csv_path; print(demo_csv_path())')"
demo_policies="$(python -c 'from caretune.data.demo import demo_knowledge_dir; print(demo_knowledge_dir())')"
demo_off_domain="$(python -c 'from caretune.data.demo import demo_off_domain_path; print(demo_off_domain_path())')"
echo "== 1/7 prepare: $demo_csv"
caretune prepare "$demo_csv" --out demo-out/data
took prepare

echo "== 2/7 validate"
caretune validate demo-out/data/train.jsonl
took validate

echo "== 3/7 knowledge base: the shop's policies and its past conversations -> demo-out/knowledge"
caretune knowledge add demo-out/knowledge "$demo_policies" demo-out/data/train.jsonl
took knowledge

echo "== 4/7 fine-tune gemma-3-270m (LoRA) to answer from the knowledge base -> runs/demo"
# The curve's points on 16 held-out conversations, not 32: at 40 steps its evaluations took as long as its
# steps, and the curve's shape shows as well (docs/PERFORMANCE.md).
if python -c 'import json,sys; sys.exit(json.load(open("runs/demo/run.json"))["status"] != "succeeded")' 2>/dev/null; then
  echo "runs/demo already finished; reusing it"
else
  resume=(); [ -d runs/demo/checkpoints ] && resume=(--resume)
  caretune train --data demo-out/data --out runs/demo --base gemma-3-270m --knowledge demo-out/knowledge \
    --max-steps "${CARETUNE_DEMO_STEPS:-40}" --batch-size 4 --max-seq-len 512 --max-eval-examples 16 "${resume[@]}"
fi
took fine-tune

echo "== 5/7 calibrate the hand-off: held-out shop questions against messages meant for other companies"
caretune eval --model runs/demo --data demo-out/data/test.jsonl --off-domain "$demo_off_domain" --handoff-only \
  --out demo-out/handoff
took calibrate

echo "== 6/7 the base model and the fine-tune, side by side"
caretune ask --model gemma-3-270m --model runs/demo
took ask
echo "== time per step: $(IFS=,; echo "${timings[*]}" | sed 's/,/, /g'); $SECONDS s in all"

if [ "${CARETUNE_DEMO_SERVE:-1}" = 1 ]; then
  port="${CARETUNE_DEMO_PORT:-8000}"
  echo "== 7/7 serving the API and the chat app on http://127.0.0.1:$port (Ctrl-C to stop)"
  exec caretune serve --host 127.0.0.1 --port "$port" --no-auth --model gemma-3-270m --model runs/demo
fi
