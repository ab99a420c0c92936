"""One bar chart per metric (matplotlib, PNG bytes): the report's at-a-glance comparison of systems."""

from __future__ import annotations

import io

from caretune.evaluation.schema import METRICS, EvalReport
from caretune.evaluation.tables import reported_metrics

_KIND_COLOURS = {"model": "#3b6ea8", "few-shot": "#d08c2f", "retrieval": "#6a9a4a"}


def metric_chart(report: EvalReport, metric: str) -> bytes:
    """A horizontal bar per system (colour = model or baseline), its value written at the bar's end."""
    import matplotlib

    matplotlib.use("Agg")  # no display: charts are files
    import matplotlib.pyplot as plt

    systems = [s for s in report.systems if s.metrics.get(metric) is not None]
    values = [float(s.metrics[metric]) for s in systems]
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.45 * len(systems)))
    bars = ax.barh([s.name for s in systems], values, color=[_KIND_COLOURS[s.kind] for s in systems])
    ax.bar_label(bars, labels=[METRICS[metric].fmt.format(v) for v in values], padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(METRICS[metric].label, fontsize=10)
    ax.margins(x=0.2)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def all_charts(report: EvalReport) -> dict[str, bytes]:
    """Charts for every metric any system reported, keyed by metric name."""
    return {metric: metric_chart(report, metric) for metric in reported_metrics(report)}
