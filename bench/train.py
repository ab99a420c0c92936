"""Benchmark: caretune's trainer against TRL's SFTTrainer on the real Gemma 3 270M, same data/LoRA/batch.

Both fine-tune LoRA r=16 on every attention and MLP projection, max length 512, the same batches of
conversations prepared (``caretune.data.prepare``) from a synthetic TWCS-shaped support log, with loss on
agent turns only (TRL: ``assistant_only_loss`` with a chat template that renders caretune's plain format).
Each runs in its own process (so peak RSS is its own) for a bounded number of steps; the report gives
tokens/s counted the same way for both (real tokens, padding excluded), the ratio, peak RSS and the first
steps' losses side by side.

    nice -n 10 python bench/train.py            # ~10 minutes here
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

# caretune's plain format as a chat template, with TRL's generation markers around each trained agent turn.
# (A newline right after a block tag is an expression: HF compiles templates with trim_blocks.)
PLAIN_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m.role == 'system' %}{{ m.content }}\n\n"
    "{% elif m.role == 'user' %}Customer: {{ m.content }}\n"
    "{% else %}Agent:{% if m.weight is not none and m.weight == 0 %} {{ m.content }}{{ eos_token }}"
    "{% else %}{% generation %} {{ m.content }}{{ eos_token }}{% endgeneration %}{% endif %}"
    "{% if not loop.last %}{{ '\\n' }}{% endif %}{% endif %}{% endfor %}"
)


PARTS = ("ours", "ours-bf16", "trl")


def main() -> None:
    args = _parse()
    if args.part:
        result = (_run_trl if args.part == "trl" else _run_ours)(args)
        result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        Path(args.result).write_text(json.dumps(result))
        return
    data = _prepare_data(args.work, args.twcs_rows)
    results = {part: _child(part, data, args) for part in args.parts}
    _report(results, args)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--twcs-rows", type=int, default=4000)
    parser.add_argument("--work", type=Path, default=Path("bench/out/train"))
    parser.add_argument("--parts", nargs="+", default=["ours", "trl"], choices=PARTS, help="which runs to compare")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def _prepare_data(work: Path, rows: int) -> Path:
    """Chat-format conversations from a synthetic TWCS-shaped log, through caretune's own data stage."""
    from caretune.data.prepare import PrepareConfig, prepare
    from caretune.data.synth import write_synthetic_twcs

    work.mkdir(parents=True, exist_ok=True)
    csv = write_synthetic_twcs(work / "twcs.csv", rows, seed=0)
    prepare(PrepareConfig(inputs=[csv], out=work / "prepared"), progress=False)
    return work / "prepared" / "train.jsonl"


def _child(part: str, data: Path, args: argparse.Namespace) -> dict:
    result = args.work / f"{part}.json"
    command = [sys.executable, __file__, "--part", part, "--data", str(data), "--result", str(result)]
    command += ["--steps", str(args.steps), "--batch-size", str(args.batch_size)]
    command += ["--max-seq-len", str(args.max_seq_len)]
    command += ["--work", str(args.work)]
    print(f"running {part} ...", flush=True)
    subprocess.run(command, check=True)
    return json.loads(result.read_text())


def _run_ours(args: argparse.Namespace) -> dict:
    from caretune.training import TrainConfig, train

    clock = _StepClock()
    config = TrainConfig(
        data=args.data, out=args.work / f"{args.part}-run", bf16=args.part == "ours-bf16", max_steps=args.steps,
        batch_size=args.batch_size, micro_batch_size=args.batch_size, max_seq_len=args.max_seq_len, lora_r=16,
        lora_alpha=32, learning_rate_multiplier=0.1, save_steps=10_000,
    )
    train(config, on_event=lambda r: clock.record(r["train_loss"], r["tokens_seen"]) if "train_loss" in r else None)
    return clock.result()


def _run_trl(args: argparse.Namespace) -> dict:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from caretune.models.registry import load_tokenizer
    from caretune.data.read_jsonl import read_examples
    from caretune.training.hyperparameters import resolve_hyperparameters
    from caretune.training.config import TrainConfig
    from caretune.training.setup import trainable_model

    config = TrainConfig(data=args.data, out=args.work, batch_size=args.batch_size, learning_rate_multiplier=0.1)
    examples = read_examples(args.data)
    hp = resolve_hyperparameters(config, len(examples))
    tokenizer = load_tokenizer("gemma-3-270m")
    tokenizer.chat_template = PLAIN_TEMPLATE
    rows = [{"messages": [m.model_dump(include={"role", "content", "weight"}) for m in e.messages]} for e in examples]
    clock = _StepClock()
    trainer = SFTTrainer(
        model=trainable_model("gemma-3-270m", "lora", hp),  # the same seeded LoRA initialisation as ours
        args=SFTConfig(
            output_dir=str(args.work / "trl-run"), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
            learning_rate=hp.learning_rate, lr_scheduler_type="linear", weight_decay=0.0, logging_steps=1,
            save_strategy="no", report_to=[], seed=hp.seed, max_length=args.max_seq_len, assistant_only_loss=True,
            use_cpu=True, disable_tqdm=True, dataloader_num_workers=0,
        ),
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        callbacks=[clock],
    )
    trainer.train()
    return clock.result()


class _StepClock(TrainerCallback):
    """Wall and CPU time between consecutive step logs, the step's loss and the running count of real tokens.

    Both trainers log every step, so the interval between two logs is one whole step for either. CPU time (all
    threads of the process) is reported besides wall time because this machine is shared: other work slows
    the wall clock of a run, much less its CPU seconds.
    """

    def __init__(self) -> None:
        self.marks, self.losses, self.seen = [(time.perf_counter(), time.process_time())], [], []

    def record(self, loss: float, tokens_seen: int) -> None:
        self.marks.append((time.perf_counter(), time.process_time()))
        self.losses.append(loss)
        self.seen.append(tokens_seen)

    def on_log(self, args, state, control, logs=None, **kwargs) -> None:
        if logs and "loss" in logs and "num_tokens" in logs:  # TRL counts attention-mask tokens: no padding
            self.record(logs["loss"], logs["num_tokens"])

    def result(self) -> dict:
        tokens = [int(b - a) for a, b in zip([0] + self.seen, self.seen)]
        wall = [b[0] - a[0] for a, b in zip(self.marks, self.marks[1:])]
        cpu = [b[1] - a[1] for a, b in zip(self.marks, self.marks[1:])]
        return {"losses": self.losses, "tokens": tokens, "seconds": wall, "cpu_seconds": cpu}


def _report(results: dict, args: argparse.Namespace) -> None:
    """tokens/s (wall and CPU) after the warm-up step, ratios to TRL, peak RSS, losses side by side."""
    rate = {p: sum(r["tokens"][1:]) / sum(r["seconds"][1:]) for p, r in results.items()}
    cpu = {p: sum(r["tokens"][1:]) / sum(r["cpu_seconds"][1:]) for p, r in results.items()}
    print(f"\nGemma 3 270M, LoRA r=16 all projections, batch {args.batch_size}, max_seq_len {args.max_seq_len}, "
          f"{args.steps} steps each ('ours' = the default float32 run, 'ours-bf16' = with bfloat16 autocast)")
    for p, r in results.items():
        ratio = f" = {rate[p] / rate['trl']:.2f}x / {cpu[p] / cpu['trl']:.2f}x TRL" if "trl" in results else ""
        print(f"{p:>9}: {rate[p]:6.1f} tokens/s wall, {cpu[p]:6.1f} tokens/CPU-s{ratio} (steps 2-{args.steps}, "
              f"{sum(r['tokens'][1:])} real tokens); peak RSS {r['peak_rss_gib']:.2f} GiB")
    parts = list(results)
    print("\nstep  " + "  ".join(f"{p + '_loss':>14}" for p in parts) + "  tokens " + "/".join(parts))
    for i in range(args.steps):
        losses = "  ".join(f"{results[p]['losses'][i]:14.4f}" for p in parts)
        print(f"{i + 1:4d}  {losses}  " + "/".join(str(results[p]["tokens"][i]) for p in parts))


if __name__ == "__main__":
    main()
