"""What a run is, for every stage: ``run.json`` (``RunInfo``), the files of a run directory, model
references (run, checkpoint, base, GGUF), model ids, hyperparameters and the prompt format.

Stages import this package; it imports no stage, so training, the engines, export, evaluation and the
server all read a run the same way.
"""

from caretune.runs.info import RunInfo, Status
from caretune.runs.refs import ModelRef, resolve_ref

__all__ = ["ModelRef", "RunInfo", "Status", "resolve_ref"]
