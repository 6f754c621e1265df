"""The HTML report's pieces: log axes, bars per bucket, escaping, no network."""

from __future__ import annotations

from html.parser import HTMLParser

from idstitch.audit import AuditResult, Check, TruthMetrics
from idstitch.report import _LogScale, rejects_svg, render_html, size_histogram_svg


def test_log_scale_spans_whole_decades() -> None:
    scale = _LogScale([3, 40, 900], 100, 0)
    assert scale.ticks() == [1, 10, 100, 1000]
    assert scale(1) == 100 and scale(1000) == 0
    assert abs(scale(10) - (100 - 100 / 3)) < 1e-9


def test_histogram_has_one_bar_per_bucket() -> None:
    svg = size_histogram_svg([(1, 1, 500), (2, 3, 40), (4, 7, 3), (64, 127, 1)])
    assert svg.count('class="bar"') == 4
    assert "64–127" in svg
    assert "no profiles" in size_histogram_svg([])


def _result() -> AuditResult:
    r = AuditResult(database="<x>.duckdb")
    r.checks = [
        Check("one rudder_id per node", True, "fine"),
        Check("replay of sampled profiles", False, "1 differs", 1, [{"v": "<script>"}]),
    ]
    r.size_histogram = [(1, 1, 10), (2, 3, 2)]
    r.rejected_events = [{"reason": "missing_event_id", "source": "web", "events": 3}]
    r.rejected_identifiers = [
        {"reason": "blocked_value", "source": "web", "id_type": "user_id", "values_rejected": 7}
    ]
    r.run_log = [
        {"run_id": "r1", "step": "cc", "iteration": i, "rows_changed": 9, "edges_remaining": e,
         "nodes_active": 20, "started_at": "2024-01-01 00:00:00", "seconds": 0.1}
        for i, e in ((1, 8), (2, 2), (3, 0))
    ]  # fmt: skip
    r.truth = TruthMetrics("column t", 10, 0, 1, 3, 4, 20, 25, 18, 1, 1)
    return r


def test_report_parses_and_holds_numbers_and_no_network() -> None:
    html = render_html(_result())

    class Collect(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.svgs = 0
            self.scripts = 0
            self.text = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.svgs += tag == "svg"
            self.scripts += tag == "script"

        def handle_data(self, data: str) -> None:
            self.text += data

    page = Collect()
    page.feed(html)
    assert page.svgs == 4 and page.scripts == 0  # the <script> example is escaped text
    assert "<script>" in page.text
    assert "Audit failed: replay of sampled profiles" in page.text
    assert "0.9000" in page.text  # precision 18 / 20
    assert "0.7200" in page.text  # recall 18 / 25
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_rejects_chart_totals_by_reason() -> None:
    svg = rejects_svg(_result())
    assert svg.count('class="bar"') == 2
    assert "event: missing_event_id: 3" in svg and "value: blocked_value: 7" in svg
