"""What changed between two reports: every metric of every system present in both, with its direction.

Systems are matched by name, so comparing "before" and "after" runs of the same command lines up the
fine-tune with itself and the baselines with themselves.
"""

from __future__ import annotations

from caretune.evaluation.schema import METRICS, EvalReport, format_metric
from caretune.evaluation.tables import Table


def _verdict(metric: str, old: float, new: float) -> str:
    """"better"/"worse" by the metric's direction, "same" within rounding, "changed" when it has none."""
    if abs(new - old) <= 1e-9 * max(1.0, abs(old)):
        return "same"
    direction = METRICS[metric].higher_is_better
    if direction is None:
        return "changed"
    return "better" if (new > old) == direction else "worse"


def compare_reports(old: EvalReport, new: EvalReport) -> Table:
    """System × metric rows with old value, new value, difference and verdict."""
    table = Table(header=["System", "Metric", "Old", "New", "Change", "Verdict"], rows=[])
    old_systems = {s.name: s for s in old.systems}
    for system in new.systems:
        before = old_systems.get(system.name)
        if before is None:
            table.rows.append([system.name, "—", "—", "new system", "—", "added"])
            continue
        for metric in METRICS:
            a, b = before.metrics.get(metric), system.metrics.get(metric)
            if a is None or b is None:
                continue
            table.rows.append(
                [system.name, METRICS[metric].label, format_metric(metric, a), format_metric(metric, b),
                 f"{b - a:+.4g}", _verdict(metric, a, b)]
            )
    new_names = {s.name for s in new.systems}
    table.rows += [[name, "—", "old system", "—", "—", "removed"] for name in old_systems if name not in new_names]
    return table
