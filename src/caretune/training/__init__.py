"""Fine-tuning as a library: ``train(TrainConfig(...), on_event=None) -> Path`` (the run directory).

Heavy imports (torch, transformers) happen when ``train`` runs, so importing this package stays cheap.
"""

from caretune.training.config import TrainConfig
from caretune.training.run import TrainingInterrupted, train
from caretune.runs.info import RunInfo

__all__ = ["RunInfo", "TrainConfig", "TrainingInterrupted", "train"]
