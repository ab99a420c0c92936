"""One bar chart per metric (matplotlib, PNG bytes): the report's at-a-glance comparison of systems."""

from __future__ import annotations

import io

from caretune.evaluation.schema import METRICS, EvalReport
from caretune.evaluation.tables import reported_metrics

_KIND_COLOURS = {"model": "#3b6ea8", "few-shot": "#d08c2f", "retrieval": "#6a9a4a"}


def _pyplot():  # noqa: ANN202
    import matplotlib

    matplotlib.use("Agg")  # no display: charts are files
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:  # noqa: ANN001
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _pyplot().close(fig)
    return buffer.getvalue()


def metric_chart(report: EvalReport, metric: str) -> bytes:
    """A horizontal bar per system (colour = model or baseline), its value written at the bar's end."""
    plt = _pyplot()

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
    return _png(fig)


def risk_coverage_chart(report: EvalReport) -> bytes | None:
    """Quality of the answered in-domain turns against the share answered, per system, the calibrated
    threshold's share marked: how much answering less buys."""
    h = report.handoff
    if h is None or not h.risk_coverage:
        return None
    fig, ax = _pyplot().subplots(figsize=(6.4, 4.0))
    for system, points in h.risk_coverage.items():
        ax.plot([p.coverage for p in points], [p.quality for p in points], marker=".", label=system)
    ax.axvline(h.in_domain_answered, color="grey", linestyle="--", label=f"threshold {h.threshold:.2f}")
    ax.set_xlabel("share of in-domain turns answered (most confident first)", fontsize=9)
    ax.set_ylabel("semantic similarity of answered turns", fontsize=9)
    ax.set_title("Risk-coverage", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _png(fig)


def all_charts(report: EvalReport) -> dict[str, bytes]:
    """Charts for every metric any system reported, keyed by metric name."""
    return {metric: metric_chart(report, metric) for metric in reported_metrics(report)}
