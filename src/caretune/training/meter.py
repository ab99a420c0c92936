"""Running sums of what training and evaluation saw, turned into OpenAI-style metrics when logged."""

from __future__ import annotations

from dataclasses import dataclass, fields

from caretune.training.loss import TargetLoss


@dataclass
class Meter:
    """Loss, targets, correct argmax predictions and input tokens since the last time it was read."""

    loss_sum: float = 0.0
    targets: int = 0
    correct: int = 0
    tokens: int = 0

    def add(self, stats: TargetLoss, tokens: int) -> None:
        """Count one forward pass."""
        self.loss_sum += float(stats.loss_sum.detach())
        self.targets += stats.n_targets
        self.correct += stats.n_correct
        self.tokens += tokens

    def as_list(self) -> list[float]:
        """The sums in a fixed order, for an all-reduce across processes."""
        return [float(getattr(self, f.name)) for f in fields(self)]

    def take(self) -> Meter:
        """The sums so far; the meter starts again from zero."""
        taken = Meter(**{f.name: getattr(self, f.name) for f in fields(self)})
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))(0))
        return taken

    def metrics(self, prefix: str) -> dict[str, float]:
        """``{prefix}_loss`` and ``{prefix}_mean_token_accuracy``, token-weighted as OpenAI reports them."""
        n = max(self.targets, 1)
        return {f"{prefix}_loss": self.loss_sum / n, f"{prefix}_mean_token_accuracy": self.correct / n}
