"""The hand-off report as one self-contained HTML file: inline CSS, inline SVG charts,
no scripts, nothing fetched (its Content-Security-Policy forbids it), so it can be
mailed, attached to a ticket or opened from disk years later.

Charts: for each dataset, the share of check results that passed, warned and
failed in each of the report's time buckets (stacked bars); for each check
that did not pass, a strip of its worst result per bucket; for each model,
its share of drifted features over time against its drift threshold.
"""

from __future__ import annotations

from html import escape

from lookout.scheduler.report import Report, age, summary
from lookout.storage.records import iso

COLOURS = {
    "pass": "#3a9a5b",
    "warn": "#d89c2b",
    "fail": "#d2453d",
    "error": "#8e44ad",
    "": "#e4e4e4",
}
BAR_W, BAR_GAP, CHART_H = 10, 2, 60
DRIFT_W, DRIFT_H = 480, 80

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;
color:#1d232a;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
.when{color:#5b6570}.cards{display:flex;flex-wrap:wrap;gap:.6rem;margin:1rem 0}
.card{border:1px solid #d8dde3;border-radius:6px;padding:.5rem .8rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}.bad b{color:#c0392b}.ok b{color:#2e7d4f}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eceff2;vertical-align:top}
th{background:#f5f7f9;font-weight:600}.no{color:#c0392b;font-weight:600}.yes{color:#2e7d4f}
.none{color:#5b6570;font-style:italic}figure{margin:.6rem 0 1rem}figcaption{font-size:.85rem;color:#5b6570}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .25rem 0 .8rem;vertical-align:middle}
"""


def _e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def check_bars(dataset: str, counts: list[tuple[int, int, int]], buckets: list[float]) -> str:
    """Stacked bars: each bucket's share of results that passed, warned and failed."""
    width = len(counts) * (BAR_W + BAR_GAP)
    parts = []
    for i, (p, w, f) in enumerate(counts):
        total = p + w + f
        x = i * (BAR_W + BAR_GAP)
        if not total:
            parts.append(
                f'<rect x="{x}" y="{CHART_H - 2}" width="{BAR_W}" height="2" fill="#e4e4e4"/>'
            )
            continue
        y = float(CHART_H)
        tip = f"{iso(buckets[i])}: {p} pass, {w} warn, {f} fail or error"
        for n, colour in ((p, COLOURS["pass"]), (w, COLOURS["warn"]), (f, COLOURS["fail"])):
            if n:
                h = CHART_H * n / total
                y -= h
                parts.append(
                    f'<rect x="{x}" y="{y:.1f}" width="{BAR_W}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{_e(tip)}</title></rect>"
                )
    label = f"Check results on {dataset} over the report's window"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(label)}"'
        f' width="{width}" height="{CHART_H}" viewBox="0 0 {width} {CHART_H}">{"".join(parts)}</svg>'
    )


def check_strip(results: tuple[str, ...]) -> str:
    """One cell per bucket, coloured by the check's worst result there."""
    cell = 4
    rects = "".join(
        f'<rect x="{i * cell}" y="0" width="{cell - 1}" height="12" fill="{COLOURS.get(r, "#999")}"/>'
        for i, r in enumerate(results)
    )
    w = len(results) * cell
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="history" width="{w}"'
        f' height="12" viewBox="0 0 {w} 12">{rects}</svg>'
    )


def drift_line(model: str, shares: list[float | None], threshold: float) -> str:
    """The model's share of drifted features per bucket, with its threshold dashed."""
    n = max(len(shares) - 1, 1)
    pad = 4

    def xy(i: int, v: float) -> str:
        x = pad + (DRIFT_W - 2 * pad) * i / n
        y = DRIFT_H - pad - (DRIFT_H - 2 * pad) * min(max(v, 0.0), 1.0)
        return f"{x:.1f},{y:.1f}"

    segments: list[list[str]] = [[]]
    dots = []
    for i, v in enumerate(shares):
        if v is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append(xy(i, v))
        colour = COLOURS["fail"] if v >= threshold else COLOURS["pass"]
        x, y = xy(i, v).split(",")
        dots.append(
            f'<circle cx="{x}" cy="{y}" r="2" fill="{colour}"><title>{v:.0%}</title></circle>'
        )
    lines = "".join(
        f'<polyline points="{" ".join(s)}" fill="none" stroke="#4a6fa5" stroke-width="1.5"/>'
        for s in segments
        if len(s) > 1
    )
    ty = DRIFT_H - pad - (DRIFT_H - 2 * pad) * threshold
    label = f"Share of drifted features of {model}; the dashed line is its drift threshold"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_e(label)}"'
        f' width="{DRIFT_W}" height="{DRIFT_H}" viewBox="0 0 {DRIFT_W} {DRIFT_H}">'
        f'<rect x="0" y="0" width="{DRIFT_W}" height="{DRIFT_H}" fill="#fafbfc" stroke="#e4e7eb"/>'
        f'<line x1="0" y1="{ty:.1f}" x2="{DRIFT_W}" y2="{ty:.1f}" stroke="{COLOURS["fail"]}"'
        f' stroke-dasharray="4 3"/>{lines}{"".join(dots)}</svg>'
    )


def render(report: Report) -> str:
    s = summary(report)

    def card(label: str, value: int, bad: bool) -> str:
        return f'<div class="card {"bad" if bad else "ok"}"><b>{value}</b>{_e(label)}</div>'

    cards = "".join(
        [
            card("failed runs", s["failed_runs"], s["failed_runs"] > 0),
            card(
                "pipelines not recovered",
                s["pipelines_not_recovered"],
                s["pipelines_not_recovered"] > 0,
            ),
            card("checks still failing", s["checks_still_failing"], s["checks_still_failing"] > 0),
            card("drift episodes", s["drift_episodes"], s["drift_episodes"] > 0),
            card("promotions, rollbacks, overrides", s["changes"], False),
            card("open events", s["open_events"], s["open_events"] > 0),
            card("pending approvals", s["pending_approvals"], s["pending_approvals"] > 0),
        ]
    )
    none = '<p class="none">None.</p>'
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';'
        " style-src 'unsafe-inline'\">",
        f"<title>Hand-off report: {_e(report.workspace)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>Hand-off report: {_e(report.workspace)}</h1>",
        f'<p class="when">From {_e(iso(report.since))} to {_e(iso(report.until))} (UTC)</p>',
        f'<div class="cards">{cards}</div>',
        "<h2>Failed runs</h2>",
    ]
    if report.runs:
        parts.append(
            _table(
                ["Pipeline", "Failures", "Last failure", "Error", "Recovered"],
                [
                    [
                        _e(r.pipeline),
                        str(r.failures),
                        f"run {r.last_run}, {_e(iso(r.last_at))}",
                        _e(r.last_error),
                        f'<span class="yes">yes, {_e(iso(r.recovered_at))}</span>'
                        if r.recovered_at
                        else '<span class="no">no</span>',
                    ]
                    for r in report.runs
                ],
            )
        )
    else:
        parts.append(none)
    parts.append("<h2>Data checks</h2>")
    legend = "".join(
        f'<span style="background:{COLOURS[k]}"></span>{k}' for k in ("pass", "warn", "fail")
    )
    for dataset, counts in report.check_history.items():
        parts.append(
            f"<figure>{check_bars(dataset, counts, report.buckets)}"
            f'<figcaption class="legend">{_e(dataset)}: results per'
            f" {_e(age((report.until - report.since) / max(len(counts), 1)))}{legend}"
            "</figcaption></figure>"
        )
    if report.checks:
        parts.append(
            _table(
                ["Check", "Severity", "Not passing", "Last", "Now", "History"],
                [
                    [
                        _e(f"{c.dataset}.{c.check}"),
                        _e(c.severity),
                        str(c.failures),
                        _e(iso(c.last_at)),
                        f'<span class="{"yes" if c.now == "pass" else "no"}">{_e(c.now)}</span>',
                        check_strip(c.history),
                    ]
                    for c in report.checks
                ],
            )
        )
    else:
        parts.append('<p class="none">Every check passed.</p>')
    parts.append("<h2>Drift</h2>")
    for model, shares in report.drift_history.items():
        threshold = report.drift_threshold.get(model, 0.5)
        parts.append(
            f"<figure>{drift_line(model, shares, threshold)}<figcaption>{_e(model)}: share"
            f" of features drifted (dashed: {threshold:.0%})</figcaption></figure>"
        )
    if report.drift:
        parts.append(
            _table(
                ["Model", "Started", "Over", "What"],
                [
                    [
                        _e(e.model),
                        _e(iso(e.at)),
                        _e(iso(e.resolved_at))
                        if e.resolved_at
                        else '<span class="no">still drifting</span>',
                        _e(e.message),
                    ]
                    for e in report.drift
                ],
            )
        )
    else:
        parts.append('<p class="none">No drift episodes.</p>')
    parts.append("<h2>Promotions, rollbacks and overrides</h2>")
    parts.append(
        _table(
            ["At", "What", "Model", "Change", "Who", "Why"],
            [
                [_e(iso(c.at)), _e(c.kind), _e(c.model), _e(c.detail), _e(c.actor), _e(c.reason)]
                for c in report.changes
            ],
        )
        if report.changes
        else none
    )
    parts.append("<h2>Open events (as of now)</h2>")
    parts.append(
        _table(
            ["Id", "At", "Severity", "Kind", "Subject", "Message"],
            [
                [
                    str(e["id"]),
                    _e(iso(e["at"])),
                    _e(e["severity"]),
                    _e(e["kind"]),
                    _e(e["subject"]),
                    _e(e["message"]),
                ]
                for e in report.open_events
            ],
        )
        if report.open_events
        else '<p class="none">Every event is acknowledged or resolved.</p>'
    )
    parts.append("<h2>Pending approvals (as of now)</h2>")
    parts.append(
        _table(
            ["Request", "Model", "Version", "Asked by", "Why", "Failed gates"],
            [
                [
                    str(p["id"]),
                    _e(p["model"]),
                    _e(f"v{p['version']} → {p['alias']}"),
                    _e(p["requested_by"]),
                    _e(p["reason"]),
                    _e(", ".join(p["failed_gates"]) or "none"),
                ]
                for p in report.pending
            ],
        )
        if report.pending
        else none
    )
    if report.connectors:
        parts.append("<h2>Connectors</h2>")
        parts.append(
            _table(
                ["Connector", "Last good sync", "Age", "Last error"],
                [
                    [
                        _e(c["title"]),
                        _e(iso(c["last_sync"]) or "never"),
                        _e(age(c["age_seconds"])),
                        _e(c["error"] or ""),
                    ]
                    for c in report.connectors
                ],
            )
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
