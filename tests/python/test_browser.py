"""The audit report of the demo, opened in headless Chromium: it renders without a single
error, every chart is drawn, and a screenshot can be taken (the one in docs/ is made the same
way, with `python -m idstitch.browser`).

Without Chromium the tests skip, saying how to install it; on CI (CI=true) they fail, since
`make pytest` installs it first.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from idstitch import browser
from idstitch.browser import INSTALL_HINT, PageCheck, check_page, unavailable
from idstitch.cli import main

from conftest import Build
from warehouse import copy_database

CHARTS_IN_README = 4  # "four charts": profile sizes, convergence, runs over time, rejects


def require_browser() -> None:
    """Skip without Chromium or Playwright, except on CI, where that is a failure."""
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"CI needs the browser test: {reason}; {INSTALL_HINT}")
    pytest.skip(f"{reason}; {INSTALL_HINT}")


@pytest.fixture(scope="session")
def chromium() -> None:
    """Checked before the demo is built (a session fixture too), so a skip costs nothing."""
    require_browser()


@dataclass
class Opened:
    html: str
    check: PageCheck
    screenshot: Path


@pytest.fixture(scope="module")
def opened(
    chromium: None, demo_build: Build, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Opened]:
    """The demo's audit, written by the command as a user runs it after `make demo` (so the
    page names `idstitch.duckdb`), then opened once in the browser."""
    work = tmp_path_factory.mktemp("browser")
    copy_database(demo_build.path, work / "idstitch.duckdb")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        mp.setenv("IDSTITCH_DUCKDB_PATH", "idstitch.duckdb")  # dbt sets it; restored after
        audited = CliRunner().invoke(
            main, ["audit", "--duckdb", "idstitch.duckdb", "--html", "audit.html"]
        )
    assert audited.exit_code == 0, audited.output
    screenshot = work / "audit-report.png"
    check = check_page(work / "audit.html", screenshot)
    yield Opened((work / "audit.html").read_text(encoding="utf-8"), check, screenshot)


def test_page_renders_without_errors(opened: Opened) -> None:
    assert opened.check.errors == []
    assert opened.check.requests == []  # self-contained: nothing fetched beyond the page
    assert "idstitch.duckdb ·" in opened.html  # named as typed, no path of this machine


def test_every_chart_is_drawn(opened: Opened) -> None:
    promised = max(CHARTS_IN_README, len(re.findall(r"<figure>\s*<svg", opened.html)))
    check = opened.check
    assert len(check.chart_marks) >= promised
    assert len(check.svg_boxes) >= promised
    assert all(w > 0 and h > 0 for w, h in check.svg_boxes), check.svg_boxes
    # each chart of the demo has data: bars or points drawn with a size
    assert all(n > 0 for n in check.chart_marks), check.chart_marks
    assert check.problems == []


def test_screenshot_is_saved(opened: Opened) -> None:
    data = opened.screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width == browser.WIDTH
    assert height > 800  # the verdict, checks and numbers, down to the end of the charts


def test_missing_browser_fails_on_ci_and_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI needs the browser test"):
        require_browser()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="make pytest"):
        require_browser()
