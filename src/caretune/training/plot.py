"""``loss.png``: training and validation loss against steps, the first thing to look at after a run."""

from __future__ import annotations

import json
from pathlib import Path


def plot_losses(metrics_path: Path, out: Path) -> Path:
    """Draw the loss curves of ``metrics.jsonl`` (headless: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    for key, label in (("train_loss", "train"), ("valid_loss", "validation")):
        points = [(r["step"], r[key]) for r in records if key in r]
        if points:
            ax.plot(*zip(*points), marker="o" if key == "valid_loss" else None, label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (agent tokens)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
