"""``report.md``: the report for reading in a terminal, an editor or a Git host (charts as linked PNGs)."""

from __future__ import annotations

from caretune.evaluation.schema import METRICS, EvalReport, Sample
from caretune.evaluation.tables import (
    Table, brand_table, close_call_tables, handoff_table, metrics_table, paired_table,
)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (pipes escaped, newlines as <br>)."""
    return text.replace("|", "\\|").replace("\n", "<br>")


def md_table(table: Table) -> str:
    """A GitHub-flavoured Markdown table, bold where the table marks the best value."""
    lines = ["| " + " | ".join(table.header) + " |", "|" + "---|" * len(table.header)]
    for r, row in enumerate(table.rows):
        cells = [f"**{_cell(c)}**" if (r, j) in table.bold else _cell(c) for j, c in enumerate(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def speaker(role: str) -> str:
    """How a message's role is shown in sampled turns."""
    return {"user": "Customer", "assistant": "Agent", "system": "System"}[role]


def _sample(number: int, sample: Sample) -> str:
    history = "\n".join(f"> **{speaker(m['role'])}:** {_cell(m['content'])}  " for m in sample.history)
    rows = ([["real agent", sample.reference]] if sample.reference is not None else []) + [
        [name, reply] for name, reply in sample.replies.items()
    ]
    return f"### Turn {number}\n\n{history}\n\n" + md_table(Table(header=["Who", "Reply"], rows=rows))


def summary_lines(report: EvalReport) -> list[str]:
    """What was evaluated, in a few bullet points (shared by both renderings)."""
    s = report.settings
    what = "agent turns" if report.mode == "reference" else "customer messages (no reference replies)"
    return [
        f"Data: `{s.data}` — {report.n_turns} {what}" + (f" (limit {s.limit}, seed {s.seed})" if s.limit else ""),
        f"Models: {', '.join(f'`{m}`' for m in s.models)}; few-shot base: `{s.base}`; retrieval index: `{s.train}`",
        f"Generation: engine {s.engine}, temperature {s.temperature}, max {s.max_tokens} tokens",
        f"Created {report.created_at}, wall time {report.wall_time_s:.0f} s",
    ]


def render_markdown(report: EvalReport, chart_files: dict[str, str], risk_chart: str | None = None) -> str:
    """The whole report; ``chart_files`` maps metric names to PNG paths relative to the report, ``risk_chart``
    is the hand-off's risk-coverage plot."""
    parts = [f"# caretune evaluation ({report.mode})", "\n".join(f"- {line}" for line in summary_lines(report))]
    parts += ["## Metrics", md_table(metrics_table(report))]
    paired = paired_table(report)
    if paired is not None:
        parts += ["## Is the difference real? (paired, per turn)", md_table(paired)]
    handoff = handoff_table(report)
    if handoff is not None:
        parts += ["## When the bot hands over (out of fold)", md_table(handoff)]
        parts += [f"![Risk-coverage]({risk_chart})"] if risk_chart else []
        parts += [part for heading, table in close_call_tables(report) for part in (f"### {heading}", md_table(table))]
    parts += ["## Charts"]
    parts += [f"![{METRICS[m].label}]({path})" for m, path in chart_files.items()]
    brands = brand_table(report)
    if brands is not None:
        parts += ["## Per brand", md_table(brands)]
    parts += ["## Sampled turns", *(_sample(i, s) for i, s in enumerate(report.samples, start=1))]
    return "\n\n".join(parts) + "\n"
