"""``report.html``: one self-contained file (charts inline as base64 PNG) to mail or attach to a ticket."""

from __future__ import annotations

import base64
from html import escape

from caretune.evaluation.markdown import speaker, summary_lines
from caretune.evaluation.schema import METRICS, EvalReport, Sample
from caretune.evaluation.tables import (
    Table, brand_table, close_call_tables, handoff_table, metrics_table, paired_table,
)

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;
vertical-align:top}th{background:#f2f2f2}.charts{display:flex;flex-wrap:wrap;gap:1rem}.charts img{max-width:48%}
.turn{border:1px solid #ddd;border-radius:6px;padding:.8rem;margin:1rem 0}.history p{margin:.2rem 0}
.replies{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:.6rem}
.reply{background:#f7f7fa;border-radius:4px;padding:.5rem;white-space:pre-wrap}.reply h4{margin:0 0 .3rem}
.real{background:#eaf5ea}
"""


def html_table(table: Table) -> str:
    """An HTML table, bold where the table marks the best value."""
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td><b>{escape(c)}</b></td>" if (r, j) in table.bold else f"<td>{escape(c)}</td>"
            for j, c in enumerate(row)
        )
        + "</tr>"
        for r, row in enumerate(table.rows)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _reply(title: str, text: str, css: str = "reply") -> str:
    return f'<div class="{css}"><h4>{escape(title)}</h4>{escape(text)}</div>'


def _sample(number: int, sample: Sample) -> str:
    history = "".join(f"<p><b>{speaker(m['role'])}:</b> {escape(m['content'])}</p>" for m in sample.history)
    replies = [_reply("real agent", sample.reference, "reply real")] if sample.reference is not None else []
    replies += [_reply(name, text) for name, text in sample.replies.items()]
    return (
        f'<div class="turn"><h3>Turn {number}</h3><div class="history">{history}</div>'
        f'<div class="replies">{"".join(replies)}</div></div>'
    )


def _image(alt: str, png: bytes) -> str:
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def render_html(report: EvalReport, charts: dict[str, bytes], risk_chart: bytes | None = None) -> str:
    """The whole report as one HTML document with no external resources."""
    images = "".join(_image(METRICS[m].label, png) for m, png in charts.items())
    brands, paired, handoff = brand_table(report), paired_table(report), handoff_table(report)
    body = [
        f"<h1>caretune evaluation ({report.mode})</h1>",
        "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in summary_lines(report)) + "</ul>",
        "<h2>Metrics</h2>",
        html_table(metrics_table(report)),
        *(["<h2>Is the difference real? (paired, per turn)</h2>", html_table(paired)] if paired is not None else []),
        *(["<h2>When the bot hands over (out of fold)</h2>", html_table(handoff)] if handoff is not None else []),
        *([_image("Risk-coverage", risk_chart)] if risk_chart else []),
        *(f"<h3>{escape(heading)}</h3>{html_table(table)}" for heading, table in close_call_tables(report)),
        f'<h2>Charts</h2><div class="charts">{images}</div>',
        *(["<h2>Per brand</h2>", html_table(brands)] if brands is not None else []),
        "<h2>Sampled turns</h2>",
        *(_sample(i, s) for i, s in enumerate(report.samples, start=1)),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>caretune evaluation</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n"
    )
