"""The conformance report as one self-contained HTML page and as JSON.

The page has inline CSS and no script, prints cleanly and shows every verdict as
text plus a shape/fill difference, so it reads in greyscale. Every value that
comes from data (operator names, ids, file names, messages quoting them) passes
through :func:`html.escape`; the page's own markup never takes data unescaped.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

from ..errors import NOT_UTF8_TEXT, ParseError
from ..files import written_whole
from .model import FAIL, NOT_CHECKED, PASS, WARN, ConformanceReport

HTML_NAME = "report.html"
JSON_NAME = "report.json"
MAX_DEVICE_ROWS = 20

BADGE_TEXT = {PASS: "\u2713 PASS", WARN: "! WARN", FAIL: "\u2717 FAIL",
              NOT_CHECKED: "\u2013 NOT CHECKED"}

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #111; background: #fff; margin: 2rem auto; max-width: 72rem; padding: 0 1.5rem; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 2px solid #333; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
p.meta { color: #333; margin: .2rem 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { border: 1px solid #888; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #e8e8e8; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .id { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em;
            overflow-wrap: anywhere; }
.badge { display: inline-block; min-width: 6.5em; text-align: center; font-weight: 700;
         padding: .05rem .45rem; border-radius: .25rem; white-space: nowrap;
         letter-spacing: .03em; }
.badge.pass { color: #0b5d1e; background: #fff; border: 2px solid #0b5d1e; }
.badge.warn { color: #5c3b00; background: #ffe8a3; border: 2px dashed #5c3b00; }
.badge.fail { color: #fff; background: #a4161a; border: 2px solid #000; }
.badge.not_checked { color: #333; background: #fff; border: 1px dotted #555;
                     font-weight: 400; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.summary div { border: 1px solid #888; padding: .5rem .9rem; }
ul.reasons li { margin: .15rem 0; }
dl.defs dt { font-weight: 700; margin-top: .6rem; }
dl.defs dd { margin: .1rem 0 0 1.2rem; }
.small { font-size: .88em; color: #333; }
section.operator { page-break-inside: auto; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  h2 { page-break-after: avoid; }
  tr, .badge { page-break-inside: avoid; }
  .badge { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def e(value) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    if value is None:
        return ""
    return html.escape(str(value), quote=True)


def badge(result: str) -> str:
    key = result if result in BADGE_TEXT else NOT_CHECKED
    return f'<span class="badge {key}">{e(BADGE_TEXT[key])}</span>'


def _pct(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "\u2013"
    return f"{100.0 * float(value):.2f} %"


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def render_html(report: ConformanceReport) -> str:
    ops = report.operators
    counts = {k: sum(1 for op in ops if op.verdict == k) for k in (PASS, WARN, FAIL)}
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>EV charge-point data conformance report</title>",
           f"<style>{CSS}</style>", "</head>", "<body>",
           "<h1>EV charge-point data conformance report</h1>",
           f'<p class="meta">Data standard version {e(report.standard_version)} \u00b7 '
           f"generated {e(report.generated_utc)} \u00b7 as of {e(report.as_of_utc)}</p>",
           f'<p class="meta">Period: {e(report.period or "per return (see inputs)")} \u00b7 '
           f"records older than {e(f'{report.stale_days:g}')} days are stale \u00b7 "
           f"rapid reliability target {e(f'{100 * report.reliability_target:g}')} %</p>",
           '<p class="meta">Reliability counts observed time only: a status observation '
           f"holds for at most {e(f'{report.max_gap_hours:g}')} h; with fewer than "
           f"{e(f'{report.min_observed_hours:g}')} counted hours there is not enough "
           "observed time for a pass or fail.</p>"]
    if report.london_check:
        out.append(f'<p class="meta">Inside London decided by: {e(report.london_check)}</p>')
    out.append('<div class="summary">'
               + "".join(f"<div>{badge(k)} {counts[k]:,} operator(s)</div>"
                         for k in (FAIL, WARN, PASS)) + "</div>")

    out += ["<h2>Operators</h2>", "<table>", "<thead><tr><th>Operator</th><th>Verdict</th>"
            '<th class="num">Devices</th><th class="num">Rapid devices</th>'
            '<th class="num">Sessions</th><th class="num">Checks failed</th>'
            '<th class="num">Warnings</th><th class="num">Rapid reliability</th>'
            "</tr></thead>", "<tbody>"]
    for i, op in enumerate(ops):
        failed = sum(1 for c in op.checks if c.result == FAIL)
        warned = sum(1 for c in op.checks if c.result == WARN)
        rapid = _pct(op.rapid_reliability.reliability) + \
            f" ({_num(op.rapid_reliability.observed_h)} h observed)" \
            if op.rapid_reliability else _pct(None)
        out.append(f'<tr><td><a href="#op-{i}">{e(op.operator)}</a></td>'
                   f"<td>{badge(op.verdict)}</td><td class=\"num\">{op.devices:,}</td>"
                   f'<td class="num">{op.rapid_devices:,}</td>'
                   f'<td class="num">{op.sessions:,}</td><td class="num">{failed}</td>'
                   f'<td class="num">{warned}</td><td class="num">{e(rapid)}</td></tr>')
    out += ["</tbody>", "</table>"]

    out += ["<h2>Inputs</h2>", "<table>", "<thead><tr><th>File or feed</th><th>Kind</th>"
            '<th>Use</th><th class="num">Rows</th><th>Period</th><th>Operators</th>'
            "<th>Notes</th></tr></thead>", "<tbody>"]
    for item in report.inputs:
        shown = item.operators[:5]
        more = f" and {len(item.operators) - 5} more" if len(item.operators) > 5 else ""
        notes = ([f"Error: {item.error}"] if item.error else []) + list(item.warnings)
        period = f"{item.period} ({item.period_source})" if item.period else ""
        out.append(f'<tr><td class="id">{e(item.name)}</td><td>{e(item.kind)}</td>'
                   f'<td>{e(item.role)}</td><td class="num">{item.rows:,}</td>'
                   f"<td>{e(period)}</td><td>{e(', '.join(shown) + more)}</td>"
                   f"<td>{'<br>'.join(e(n) for n in notes)}</td></tr>")
    out += ["</tbody>", "</table>"]

    for i, op in enumerate(ops):
        out.append(_operator_section(i, op))

    out += ["<h2>Definitions</h2>", '<dl class="defs">']
    for key, text in report.definitions.items():
        out.append(f"<dt>{e(key.replace('_', ' '))}</dt><dd>{e(text)}</dd>")
    out.append("</dl>")
    if report.timings_s:
        shown = ", ".join(f"{k} {v:.2f} s" for k, v in report.timings_s.items())
        out.append(f'<p class="small">Timings: {e(shown)}</p>')
    out += ['<p class="small">Made with the ev_chargepoints QGIS plugin. The JSON file next '
            "to this page holds the same report for machines.</p>", "</body>", "</html>", ""]
    return "\n".join(out)


def _operator_section(i: int, op) -> str:
    out = [f'<section class="operator" id="op-{i}">',
           f"<h2>{e(op.operator)} {badge(op.verdict)}</h2>",
           f'<p class="meta">{op.devices:,} device(s), {op.connectors:,} connector(s), '
           f"{op.rapid_devices:,} rapid, {op.sessions:,} session(s). Sources: "
           f"{e(', '.join(op.sources) or 'none')}</p>"]
    if op.reasons:
        out.append("<h3>Reasons</h3><ul class=\"reasons\">"
                   + "".join(f"<li>{e(r)}</li>" for r in op.reasons) + "</ul>")
    else:
        out.append("<p>No check found a problem.</p>")
    out += ["<h3>Checks</h3>", "<table>", "<thead><tr><th>Check</th><th>Result</th>"
            '<th class="num">Found</th><th>Source</th><th>Details</th></tr></thead>', "<tbody>"]
    for check in op.checks:
        details = [e(check.message)]
        if check.field_errors:
            rows = ["<table><thead><tr><th>Field</th><th>Problem</th>"
                    '<th class="num">Rows</th><th>Row numbers</th></tr></thead><tbody>']
            for fe in check.field_errors:
                listed = ", ".join(str(r) for r in fe.rows)
                if fe.total > len(fe.rows):
                    listed += f" \u2026 (first {len(fe.rows)} of {fe.total:,})"
                rows.append(f'<tr><td class="id">{e(fe.field)}</td><td>{e(fe.reason)}</td>'
                            f'<td class="num">{fe.total:,}</td><td>{e(listed)}</td></tr>')
            rows.append("</tbody></table>")
            details.append("".join(rows))
        if check.examples:
            items = []
            for ex in check.examples:
                where = f"row {ex.row}: " if ex.row is not None else ""
                ident = f'<span class="id">{e(ex.id)}</span> ' if ex.id else ""
                items.append(f"<li>{e(where)}{ident}{e(ex.detail)}</li>")
            shown = f"First {len(check.examples)}" if check.count > len(check.examples) \
                else "All"
            details.append(f'<div class="small">{shown}:</div><ul>{"".join(items)}</ul>')
        out.append(f"<tr><td>{e(check.title)}</td><td>{badge(check.result)}</td>"
                   f'<td class="num">{check.count:,}</td><td class="id">{e(check.source)}</td>'
                   f"<td>{''.join(details)}</td></tr>")
    out += ["</tbody>", "</table>"]
    if op.reliability is not None:
        out += ["<h3>Reliability from status history (observed time only)</h3>", "<table>",
                f"<thead><tr><th>Scope</th>{RELIABILITY_HEAD}</tr></thead>", "<tbody>"]
        recs = [op.reliability] + ([op.rapid_reliability] if op.rapid_reliability else [])
        for rec in recs:
            out.append(_reliability_row(rec.scope, rec))
        out += ["</tbody>", "</table>"]
        devices = op.device_reliability[:MAX_DEVICE_ROWS]
        if devices:
            label = "Least reliable devices" if len(op.device_reliability) > len(devices) \
                else "Devices"
            out += [f"<h3>{label} ({len(devices)} of {len(op.device_reliability):,})</h3>",
                    "<table>", f"<thead><tr><th>Device</th>{RELIABILITY_HEAD}</tr></thead>",
                    "<tbody>"]
            for rec in devices:
                label_ = f"{rec.id} ({rec.power_class})" if rec.power_class else rec.id
                out.append(_reliability_row(label_, rec, ident=True))
            out += ["</tbody>", "</table>"]
    out.append("</section>")
    return "\n".join(out)


RELIABILITY_HEAD = ('<th class="num">Working h</th><th class="num">Not working h</th>'
                    '<th class="num">Excluded h</th><th class="num">Observed h</th>'
                    '<th class="num">Observations</th><th class="num">EVSEs</th>'
                    '<th class="num">Reliability</th><th>Result</th>')


def _reliability_row(label: str, rec, ident: bool = False) -> str:
    cls = ' class="id"' if ident else ""
    result = badge(rec.result) if rec.result in (PASS, FAIL) else e(rec.result or "")
    return (f"<tr><td{cls}>{e(label)}</td><td class=\"num\">{_num(rec.working_h)}</td>"
            f'<td class="num">{_num(rec.down_h)}</td><td class="num">{_num(rec.excluded_h)}</td>'
            f'<td class="num">{_num(rec.observed_h)}</td>'
            f'<td class="num">{rec.observations:,}</td>'
            f'<td class="num">{rec.evses:,}</td><td class="num">{_pct(rec.reliability)}</td>'
            f"<td>{result}</td></tr>")


def _plain(value):
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_json(report: ConformanceReport) -> str:
    return json.dumps(_plain(report.to_dict()), indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def load_report(path) -> ConformanceReport:
    """Read a report.json written by :func:`write_report` (ParseError if it is not one)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ParseError(f"not a conformance report: {NOT_UTF8_TEXT}", path.name) from None
    except ValueError as exc:
        raise ParseError(f"not a conformance report: not valid JSON ({exc})",
                         path.name) from None
    try:
        return ConformanceReport.from_dict(data)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ParseError(f"not a conformance report ({type(exc).__name__}: {exc})",
                         path.name) from None


def _write_atomic(path: Path, text: str) -> None:
    with written_whole(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


def write_report(report: ConformanceReport, out_dir) -> tuple[Path, Path]:
    """Write ``out_dir/report.html`` and ``out_dir/report.json``; return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / HTML_NAME, out / JSON_NAME
    _write_atomic(json_path, report_json(report))
    _write_atomic(html_path, render_html(report))
    return html_path, json_path
