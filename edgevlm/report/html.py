"""A self-contained HTML report: the regressed metrics first, the fingerprint notes, the verdict table, and one
chart per row (each run's median with its spread, the baseline window shaded), PNGs inlined as base64."""
from __future__ import annotations

import base64
from html import escape

from edgevlm.report.charts import history_png
from edgevlm.report.model import Report
from edgevlm.report.table import HEADERS, headlines, method_text, rows

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:nth-child(-n+7),th{text-align:left}.regression{background:#fdd}.improvement{background:#dfd}
.noisy{background:#ffe}img{max-width:100%}li.reg{color:#a00;font-weight:bold}"""


def to_html(report: Report) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADERS)
    body = "".join(f"<tr class='{escape(r[0]).replace(' ', '-')}'>" + "".join(f"<td>{escape(c)}</td>" for c in r)
                   + "</tr>" for r in rows(report))
    regressed = "".join(f"<li class='reg'>{escape(h)}</li>" for h in headlines(report))
    notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
    charts = "".join(_chart(g) for g in report.sorted_groups() if g.history)
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>edgevlm report</title>"
            f"<style>{_STYLE}</style></head><body><h1>edgevlm latency report</h1>"
            f"<p><strong>{escape(report.summary_line())}</strong></p>"
            + (f"<h2>Regressed</h2><ul>{regressed}</ul>" if regressed else "")
            + (f"<h2>Fingerprint differences</h2><ul>{notes}</ul>" if notes else "")
            + f"<p>store: {escape(report.store)}, created {escape(report.created)}</p><table><tr>{head}</tr>{body}"
            f"</table><p>{escape(method_text(report))}</p>"
            f"<h2>History</h2><p>One point per run: its median, the bar its interquartile range, the thin line its "
            f"min–max; shaded: the baseline window; red: the candidate runs; orange: throttled runs (excluded).</p>"
            f"{charts}</body></html>\n")


def _chart(group) -> str:
    data = base64.b64encode(history_png(group)).decode("ascii")
    alt = f"{group.metric} history for {group.device} {group.model} {group.quant} {group.workload}"
    return f"<h3>{escape(group.verdict)}: {escape(alt)}</h3><img alt='{escape(alt)}' src='data:image/png;base64,{data}'>"
