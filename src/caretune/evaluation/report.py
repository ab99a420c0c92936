"""Writes a report directory: ``metrics.json``, ``report.md`` (+ ``charts/*.png``) and ``report.html``."""

from __future__ import annotations

from pathlib import Path

from caretune.errors import InputError
from caretune.evaluation.charts import all_charts, risk_coverage_chart
from caretune.evaluation.html import render_html
from caretune.evaluation.markdown import render_markdown
from caretune.evaluation.schema import EvalReport

METRICS_FILE = "metrics.json"
RISK_CHART = "charts/risk_coverage.png"


def write_report(report: EvalReport, out: Path) -> list[Path]:
    """Write every report file into ``out`` (created if needed) and return their paths."""
    charts = all_charts(report)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    chart_files = {metric: f"charts/{metric}.png" for metric in charts}
    for metric, png in charts.items():
        (out / chart_files[metric]).write_bytes(png)
    risk = risk_coverage_chart(report)
    if risk is not None:
        (out / RISK_CHART).write_bytes(risk)
    files = {
        METRICS_FILE: report.model_dump_json(indent=2),
        "report.md": render_markdown(report, chart_files, RISK_CHART if risk else None),
        "report.html": render_html(report, charts, risk),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in files] + [out / p for p in chart_files.values()] + ([out / RISK_CHART] if risk else [])


def read_report(path: Path) -> EvalReport:
    """A report back from its directory or its ``metrics.json`` (what ``--compare`` reads)."""
    file = path / METRICS_FILE if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"no {METRICS_FILE} here; pass a report directory written by caretune eval", path)
    return EvalReport.model_validate_json(file.read_text(encoding="utf-8"))
