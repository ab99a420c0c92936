"""Every system's raw replies (``outcomes.json``), kept so a later evaluation can reuse them (``--reuse``).

Generating with a 270M model on a shared CPU costs seconds per turn, and the base model and the baselines
give the same replies every time the workload and settings are the same; a key over everything that
determines the replies makes reusing them safe.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel

from caretune.evaluation.likelihood import TokenStats
from caretune.evaluation.responders import Kind, Reply
from caretune.evaluation.turns import Turn

OUTCOMES_FILE = "outcomes.json"


class Outcome(BaseModel):
    """One system's replies to every turn (and likelihood statistics for models, in reference mode)."""

    key: str
    name: str
    kind: Kind
    source: str
    replies: list[Reply]
    stats: list[TokenStats] | None = None


def _identity(source: str) -> str:
    """What a source is now: a run's ``run.json`` (a retrained run is a new source), else its name. The hand-off
    settings are left out: evaluation answers every turn, and calibrating a run writes them into it."""
    run_json = Path(source) / "run.json"
    if not run_json.is_file():
        return source
    info = json.loads(run_json.read_text(encoding="utf-8"))
    info.pop("handoff", None)
    return json.dumps(info, sort_keys=True)


def outcome_key(kind: Kind, source: str, turns: list[Turn], settings: dict) -> str:
    """A hash of the system, its source, the exact turns and the generation settings."""
    payload = json.dumps(
        {"kind": kind, "source": _identity(source), "turns": [t.model_dump() for t in turns], "settings": settings},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def save_outcomes(outcomes: list[Outcome], out: Path) -> Path:
    """Write ``outcomes.json`` into the report directory."""
    path = out / OUTCOMES_FILE
    path.write_text(json.dumps([o.model_dump(mode="json") for o in outcomes]), encoding="utf-8")
    return path


def load_outcomes(report_dir: Path) -> dict[str, Outcome]:
    """A previous report's outcomes by key (empty when it kept none)."""
    path = report_dir / OUTCOMES_FILE
    if not path.is_file():
        return {}
    return {o.key: o for o in (Outcome.model_validate(x) for x in json.loads(path.read_text(encoding="utf-8")))}
