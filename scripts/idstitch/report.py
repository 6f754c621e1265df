"""The audit as one self-contained HTML page: inline CSS and inline SVG charts, no scripts and
no network, so it opens from a CI artifact or an e-mail attachment as it is."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from typing import Any

from idstitch.audit import AuditResult

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 48
PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c"]

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto;
       max-width: 1100px; color: #111827; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2rem; font-size: 1.2rem; }
.meta { color: #6b7280; } .pass { color: #15803d; } .fail { color: #b91c1c; font-weight: 600; }
.skip { color: #a16207; }
.verdict { font-size: 1.1rem; padding: .6rem 1rem; border-radius: 6px; display: inline-block; }
.verdict.ok { background: #dcfce7; } .verdict.bad { background: #fee2e2; }
table { border-collapse: collapse; margin: .5rem 0; } th, td { padding: .25rem .6rem;
  border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { border: 1px solid #e5e7eb; border-radius: 8px; padding: .6rem 1rem; min-width: 9rem; }
.card .v { font-size: 1.4rem; font-weight: 600; } .card .k { color: #6b7280; font-size: .85rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1rem; }
figure { margin: 0; } figcaption { color: #4b5563; font-size: .85rem; }
svg text { font: 11px system-ui, sans-serif; fill: #374151; }
code { background: #f3f4f6; padding: 0 .25rem; border-radius: 3px; }
"""


def _fmt(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:.3g}M"
    if v >= 1000:
        return f"{v / 1000:.3g}k"
    return f"{v:.3g}" if isinstance(v, float) and not v.is_integer() else f"{int(v)}"


def _svg(title: str, body: list[str], caption: str) -> str:
    return (
        f'<figure><svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {WIDTH} '
        f'{HEIGHT}" width="100%" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="{LEFT}" y="16" style="font-weight:600;font-size:13px">{escape(title)}</text>'
        + "".join(body)
        + f"</svg><figcaption>{escape(caption)}</figcaption></figure>"
    )


class _LogScale:
    """Maps positive values to pixels on a log10 axis spanning whole decades."""

    def __init__(self, values: Sequence[float], lo_px: float, hi_px: float) -> None:
        positive = [v for v in values if v > 0] or [1.0]
        self.lo = math.floor(math.log10(min(positive)))
        self.hi = max(math.ceil(math.log10(max(positive))), self.lo + 1)
        self.lo_px, self.hi_px = lo_px, hi_px

    def __call__(self, v: float) -> float:
        x = (math.log10(max(v, 10.0**self.lo)) - self.lo) / (self.hi - self.lo)
        return self.lo_px + x * (self.hi_px - self.lo_px)

    def ticks(self) -> list[float]:
        return [10.0**k for k in range(self.lo, self.hi + 1)]


def _y_axis(scale: _LogScale, label: str) -> list[str]:
    out = [
        f'<text x="14" y="{(TOP + HEIGHT - BOTTOM) / 2}" transform="rotate(-90 14 '
        f'{(TOP + HEIGHT - BOTTOM) / 2})" text-anchor="middle">{escape(label)}</text>'
    ]
    for t in scale.ticks():
        y = scale(t)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    return out


def size_histogram_svg(histogram: Sequence[tuple[int, int, int]]) -> str:
    """Profiles per size bucket; both axes logarithmic (buckets are powers of two)."""
    title = "Profile sizes (identifiers per profile, log-log)"
    if not histogram:
        return _svg(title, [], "no profiles")
    counts = [n for _, _, n in histogram]
    y = _LogScale(counts, HEIGHT - BOTTOM, TOP + 8)
    span = (WIDTH - LEFT - RIGHT) / len(histogram)
    body = _y_axis(y, "profiles")
    for i, (lo, hi, n) in enumerate(histogram):
        x = LEFT + i * span
        top = y(n) if n > 0 else HEIGHT - BOTTOM
        label = str(lo) if lo == hi else f"{lo}–{hi}"
        body.append(
            f'<rect class="bar" x="{x + 2:.1f}" y="{top:.1f}" width="{span - 4:.1f}" '
            f'height="{HEIGHT - BOTTOM - top:.1f}" fill="{PALETTE[0]}">'
            f"<title>{label} identifiers: {n:,} profiles</title></rect>"
            f'<text x="{x + span / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
            f"{label}</text>"
        )
    body.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        "identifiers per profile (powers of two)</text>"
    )
    return _svg(title, body, "A long right tail or a lone bar far out means over-merging.")


def _lines_svg(
    title: str,
    series: Mapping[str, Sequence[tuple[float, float]]],
    x_labels: Sequence[tuple[float, str]],
    y_label: str,
    x_label: str,
    caption: str,
) -> str:
    points = [p for s in series.values() for p in s]
    if not points:
        return _svg(title, [], "no runs logged yet")
    y = _LogScale([v for _, v in points], HEIGHT - BOTTOM, TOP + 8)
    xs = [x for x, _ in points]
    x_lo, x_hi = min(xs), max(xs)
    width = (x_hi - x_lo) or 1.0

    def px(x: float) -> float:
        return LEFT + 10 + (x - x_lo) / width * (WIDTH - LEFT - RIGHT - 20)

    body = _y_axis(y, y_label)
    for x, text in x_labels:
        body.append(
            f'<text x="{px(x):.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
            f"{escape(text)}</text>"
        )
    for k, (name, pts) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        path = " ".join(f"{px(a):.1f},{y(b):.1f}" for a, b in pts)
        body.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for a, b in pts:
            body.append(
                f'<circle cx="{px(a):.1f}" cy="{y(b):.1f}" r="3" fill="{colour}">'
                f"<title>{escape(name)}: {b:,.0f}</title></circle>"
            )
        body.append(
            f'<text x="{WIDTH - RIGHT - 150}" y="{TOP + 14 * k}">'
            f'<tspan style="fill:{colour}">■</tspan> {escape(name)}</text>'
        )
    body.append(
        f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 10}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    return _svg(title, body, caption)


def convergence_svg(run_log: Sequence[dict[str, Any]]) -> str:
    """Edges left and active nodes per round of the latest run (log y)."""
    if not run_log:
        return _lines_svg("Convergence of the latest run", {}, [], "", "", "")
    last = max(run_log, key=lambda r: str(r["started_at"]))["run_id"]
    rows = sorted((r for r in run_log if r["run_id"] == last), key=lambda r: r["iteration"])
    series = {
        "edges left": [(r["iteration"], max(r["edges_remaining"], 0.5)) for r in rows],
        "active nodes": [(r["iteration"], r["nodes_active"]) for r in rows],
    }
    labels = [(r["iteration"], str(r["iteration"])) for r in rows]
    return _lines_svg(
        "Convergence of the latest run (log scale)",
        series,
        labels,
        "rows",
        "round of the connected-components loop",
        f"Run {last}: each round should remove a constant share of the edges "
        "(0 edges left is drawn at 0.5).",
    )


def iterations_over_time_svg(run_log: Sequence[dict[str, Any]]) -> str:
    """Rounds and seconds of every logged run, in time order."""
    runs: dict[str, dict[str, Any]] = defaultdict(lambda: {"rounds": 0, "seconds": 0.0})
    for r in run_log:
        run = runs[r["run_id"]]
        run["rounds"] = max(run["rounds"], r["iteration"])
        run["seconds"] += float(r["seconds"] or 0)
        run["start"] = min(str(r["started_at"]), run.get("start", str(r["started_at"])))
    ordered = sorted(runs.values(), key=lambda r: r["start"])
    series = {
        "rounds": [(i, float(r["rounds"])) for i, r in enumerate(ordered)],
        "loop seconds": [(i, max(r["seconds"], 0.001)) for i, r in enumerate(ordered)],
    }
    step = max(1, len(ordered) // 6)
    labels = [(i, r["start"][5:16]) for i, r in enumerate(ordered) if i % step == 0]
    return _lines_svg(
        "Iterations over time (every logged run)",
        series,
        labels,
        "rounds, seconds",
        "run start (month-day hour:minute)",
        "A jump in rounds at equal data size means the graph changed shape.",
    )


def rejects_svg(result: AuditResult) -> str:
    """Rejected events and identifier values by reason, as horizontal bars."""
    title = "Rejects by reason"
    totals: dict[str, int] = defaultdict(int)
    for r in result.rejected_events:
        totals[f"event: {r['reason']}"] += int(r["events"])
    for r in result.rejected_identifiers:
        totals[f"value: {r['reason']}"] += int(r["values_rejected"])
    if not totals:
        return _svg(title, [], "nothing was rejected")
    items = sorted(totals.items(), key=lambda kv: -kv[1])[:10]
    biggest = max(v for _, v in items)
    left = 190
    row = (HEIGHT - TOP - 20) / len(items)
    body = []
    for i, (label, n) in enumerate(items):
        y = TOP + 6 + i * row
        w = (WIDTH - left - 70) * n / biggest
        colour = PALETTE[1] if label.startswith("event") else PALETTE[3]
        body.append(
            f'<text x="{left - 6}" y="{y + row / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="bar" x="{left}" y="{y + 2:.1f}" width="{max(w, 1):.1f}" '
            f'height="{max(row - 4, 2):.1f}" fill="{colour}"><title>{escape(label)}: {n:,}'
            f"</title></rect>"
            f'<text x="{left + w + 6:.1f}" y="{y + row / 2 + 4:.1f}">{n:,}</text>'
        )
    return _svg(title, body, "Events rejected whole, and single identifier values rejected.")


def _table(rows: Sequence[dict[str, Any]], empty: str) -> str:
    if not rows:
        return f"<p class='meta'>{escape(empty)}</p>"
    cols = list(rows[0])
    head = "".join(
        f"<th class='{'num' if isinstance(rows[0][c], (int, float)) else ''}'>{escape(c)}</th>"
        for c in cols
    )
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, float):
                cells.append(f"<td class='num'>{v:,.4g}</td>")
            elif isinstance(v, int) and not isinstance(v, bool):
                cells.append(f"<td class='num'>{v:,}</td>")
            else:
                cells.append(f"<td>{escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _card(key: str, value: str) -> str:
    return f"<div class='card'><div class='v'>{escape(value)}</div><div class='k'>{escape(key)}</div></div>"  # noqa: E501


def render_html(result: AuditResult) -> str:
    """The whole report as one HTML document."""
    verdict = (
        "<div class='verdict ok'>Audit passed: every invariant holds.</div>"
        if result.ok
        else "<div class='verdict bad'>Audit failed: "
        + escape(", ".join(c.name for c in result.failed))
        + "</div>"
    )
    checks = []
    for c in result.checks:
        cls, word = (
            ("skip", "skipped") if c.skipped else (("pass", "pass") if c.ok else ("fail", "FAIL"))
        )  # noqa: E501
        examples = "".join(f"<br><code>{escape(str(e))}</code>" for e in c.examples)
        checks.append(
            f"<tr><td>{escape(c.name)}</td><td class='{cls}'>{word}</td>"
            f"<td>{escape(c.detail)}{examples}</td></tr>"
        )
    q = result.size_quantiles
    cards = [
        _card("profiles", f"{result.profiles:,}"),
        _card("identifiers", f"{result.nodes:,}"),
        _card("events identified", f"{result.events_identified:,}"),
    ]
    if q:
        cards += [
            _card("mean identifiers / profile", f"{q['mean']:.2f}"),
            _card("p99 identifiers / profile", f"{q['p99']:.0f}"),
            _card("largest profile", f"{q['max']:.0f}"),
        ]
    truth = ""
    t = result.truth
    if t:
        truth = (
            "<h2>Against the ground truth</h2>"
            f"<p class='meta'>Truth: {escape(t.source)}. Pairs of accepted events: predicted "
            "same person when they share a rudder_id, actually the same person when they share "
            "the true person id. Precision = correct / predicted pairs; recall = correct / "
            "actual pairs.</p><div class='cards'>"
            + _card("pairwise precision", f"{t.precision:.4f}")
            + _card("pairwise recall", f"{t.recall:.4f}")
            + _card("pairwise F1", f"{t.f1:.4f}")
            + _card("persons split over profiles", f"{t.persons_split:,} of {t.persons:,}")
            + _card("profiles mixing persons", f"{t.profiles_mixed:,} of {t.profiles:,}")
            + _card("events scored", f"{t.events_scored:,}")
            + "</div>"
            + _table(
                [
                    {
                        "predicted pairs": t.predicted_pairs,
                        "actual pairs": t.actual_pairs,
                        "correct pairs": t.correct_pairs,
                        "events without truth": t.events_without_truth,
                        "rejected events with truth": t.rejected_events_with_truth,
                    }
                ],
                "",
            )
        )
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>idstitch audit</title><style>{CSS}</style></head>
<body>
<h1>idstitch audit</h1>
<p class="meta">{escape(result.database)} · generated {generated}</p>
{verdict}
<h2>Invariants and replay</h2>
<table id="checks"><thead><tr><th>check</th><th>result</th><th>detail</th></tr></thead>
<tbody>{"".join(checks)}</tbody></table>
<h2>Profiles</h2>
<div class="cards">{"".join(cards)}</div>
{truth}
<h2>Charts</h2>
<div class="charts">
{size_histogram_svg(result.size_histogram)}
{convergence_svg(result.run_log)}
{iterations_over_time_svg(result.run_log)}
{rejects_svg(result)}
</div>
<h2>Over-merge signals</h2>
<h3>Largest profiles</h3>
{_table(result.largest_profiles, "no profiles")}
<h3>Identifiers with the most edges (super-nodes)</h3>
{_table(result.super_nodes, "no edges")}
<h3>Values that look like placeholders but are not blocked</h3>
<p class="meta">Candidates for <code>blocked_values</code>; a real placeholder sits in a big
profile.</p>
{_table(result.placeholders, "none found")}
<h3>Shared identifiers</h3>
<p class="meta">Values seen with more distinct values of another type than their
<code>shared_after</code> allows: each is a profile of its own and links nothing.</p>
{_table(result.shared, "none")}
<h3>Values at the shared threshold</h3>
<p class="meta">One more co-occurring value and they would be shared.</p>
{_table(result.near_shared, "none")}
<h2>Rejects</h2>
<h3>Events by reason and source</h3>
{_table(result.rejected_events, "no event was rejected")}
<h3>Identifier values by reason, source and type</h3>
{_table(result.rejected_identifiers, "no identifier value was rejected")}
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""
