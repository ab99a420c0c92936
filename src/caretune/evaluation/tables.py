"""The report's tables as plain rows of strings, so Markdown and HTML render the very same content."""

from __future__ import annotations

from pydantic import BaseModel

from caretune.evaluation.handoff import AurocGain, Call
from caretune.evaluation.schema import METRICS, EvalReport, Metrics, format_metric

# The per-brand table keeps to the metrics that say whether replies are right; the rest are in the main table.
BRAND_METRICS = ["semantic_similarity", "rouge_l", "bleu", "chrf", "perplexity", "on_topic", "clean_stop_rate"]


class Table(BaseModel):
    """A header and rows of already formatted cells; ``bold`` marks (row, column) cells of the best value."""

    header: list[str]
    rows: list[list[str]]
    bold: set[tuple[int, int]] = set()


def reported_metrics(report: EvalReport) -> list[str]:
    """Metrics at least one system has a value for, in the canonical order."""
    return [name for name in METRICS if any(s.metrics.get(name) is not None for s in report.systems)]


def _best(values: list[float | None], name: str) -> int | None:
    """Index of the best value (None when the metric has no direction or fewer than two values)."""
    direction = METRICS[name].higher_is_better
    present = [(v, i) for i, v in enumerate(values) if v is not None]
    if direction is None or len(present) < 2:
        return None
    return (max(present) if direction else min(present))[1]


def metrics_table(report: EvalReport) -> Table:
    """One row per metric, one column per system, the best value of each row in bold."""
    names = [s.name for s in report.systems]
    table = Table(header=["Metric", *names], rows=[])
    for r, metric in enumerate(reported_metrics(report)):
        values = [s.metrics.get(metric) for s in report.systems]
        table.rows.append([METRICS[metric].label, *(format_metric(metric, v) for v in values)])
        best = _best(values, metric)
        if best is not None:
            table.bold.add((r, best + 1))
    return table


def paired_table(report: EvalReport) -> Table | None:
    """The first model against each other system: the per-turn mean difference, its 95% interval, and
    whether the gap is real (the interval excludes 0); None when the report has no comparisons."""
    if not report.paired:
        return None
    header = ["System", "Against", "Metric", "Difference", "95% interval", "Better / worse turns", "Verdict"]
    rows = [
        [d.system, d.against, METRICS[d.metric].label, f"{d.mean_diff:+.3f}", f"{d.low:+.3f} … {d.high:+.3f}",
         f"{d.better} / {d.worse}", "ahead" if d.low > 0 else "behind" if d.high < 0 else "no clear difference"]
        for d in report.paired
    ]
    return Table(header=header, rows=rows)


def brand_table(report: EvalReport) -> Table | None:
    """Brand × system rows with the key quality metrics; None when the data has no brands."""
    if not report.brands:
        return None
    metrics = [m for m in BRAND_METRICS if m in reported_metrics(report)]
    header = ["Brand", "Turns", "System", *(METRICS[m].label for m in metrics)]
    rows = []
    for brand, count in sorted(report.brands.items()):
        for system in report.systems:
            values: Metrics = system.per_brand.get(brand, {})
            rows.append([brand, str(count), system.name, *(format_metric(m, values.get(m)) for m in metrics)])
    return Table(header=header, rows=rows)


def handoff_table(report: EvalReport) -> Table | None:
    """The hand-off calibration's figures (all out of fold), one per row."""
    h = report.handoff
    if h is None:
        return None
    rows = [
        ["Questions (in-domain / off-domain)", f"{h.n_in_domain} / {h.n_off_domain}"],
        ["AUROC of the confidence", f"{h.auroc:.3f}"],
        *([[f"... with {h.n_past} past questions among the in-domain (each without its own conversation)",
            f"{h.auroc_with_past:.3f}"]] if h.auroc_with_past is not None else []),
        *[[f"AUROC of {name} alone", f"{value:.3f}"] for name, value in h.signal_auroc.items()],
        *([["AUROC with the reply's log-probability too", f"{h.auroc_with_reply:.3f}"]]
          if h.auroc_with_reply is not None else []),
        *[[f"AUROC added by {name} (95% interval; served when above 0)",
           _gain(gain, name in h.settings.features)] for name, gain in h.signal_gain.items()],
        ["Threshold (hands over the share asked of off-domain questions)", f"{h.threshold:.3f}"],
        ["In-domain questions answered", f"{h.in_domain_answered:.1%}"],
        ["Off-domain questions handed off or asked back", f"{h.off_domain_refused:.1%}"],
        *([[f"In-domain questions the confidence clears at {' / '.join(f'{r:.0%}' for r in h.cleared_at)} of "
            "off-domain handed over (triggers aside)", " / ".join(f"{v:.1%}" for v in h.cleared_at.values())]]
          if h.cleared_at else []),
        *[[f"{system}: similarity, all / answered turns", f"{h.quality_all[system]:.3f} / {value:.3f}"]
          for system, value in h.quality_answered.items()],
        ["Reasons", ", ".join(f"{k} {v}" for k, v in sorted(h.reasons.items())) or "—"],
    ]
    return Table(header=["Hand-off", "Value"], rows=rows)


def close_call_tables(report: EvalReport) -> list[tuple[str, Table]]:
    """The hand-off's mistakes a support lead reads, each list under its heading (none when it is empty): the
    company's questions handed over for low confidence, and other companies' questions answered."""
    h = report.handoff
    if h is None:
        return []
    lists = [
        ("The company's questions handed over for low confidence (least confident first): what the knowledge "
         "may lack", h.missed),
        ("Other companies' questions it would answer (most confident first)", h.let_through),
    ]
    return [(heading, _calls_table(calls)) for heading, calls in lists if calls]


def _calls_table(calls: list[Call]) -> Table:
    return Table(header=["Confidence", "Question"], rows=[[f"{c.confidence:.3f}", c.text] for c in calls])


def _gain(gain: AurocGain, served: bool) -> str:
    return f"{gain.diff:+.3f} ({gain.low:+.3f} … {gain.high:+.3f}), {'served' if served else 'not served'}"
