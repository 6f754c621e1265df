"""The audit report in a real browser: headless Chromium opens the page, and we collect what
went wrong (console errors, uncaught script errors, requests for anything but the page itself)
and how big every chart was drawn, and can save a screenshot.

Playwright drives the system's Chromium (``make`` installs Debian's ``chromium`` when it is
missing); it never downloads a browser of its own. From the command line::

    python -m idstitch.browser audit.html docs/audit-report.png

checks the page and writes the screenshot; it exits 1 when the page has an error or a chart
with nothing drawn.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from playwright.sync_api import FloatRect, Page

CHROMIUM = Path(os.environ.get("IDSTITCH_CHROMIUM", "/usr/bin/chromium"))
# headless, and quiet: no sandbox (CI runs as root), no GPU, and none of the browser's own
# traffic (updates, sync, first-run pages), so that any request seen comes from the page
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# wide enough for two charts side by side (the report's grid takes 520 px per chart)
WIDTH, HEIGHT = 1200, 900
INSTALL_HINT = (
    "`make pytest` installs Debian's chromium (apt-get, as root or through sudo); "
    "or set IDSTITCH_CHROMIUM to a Chromium binary"
)

# every <svg>'s box, and per chart of the charts section its marks (bars and points) that
# were drawn with a non-empty box
_MEASURE = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
  const drawn = e => { const [w, h] = box(e); return w > 0 && h > 0; };
  return {
    svgs: [...document.querySelectorAll('svg')].map(box),
    marks: [...document.querySelectorAll('.charts figure')].map(f =>
      [...f.querySelectorAll('svg rect.bar, svg circle')].filter(drawn).length),
    bottom: Math.max(...[...document.querySelectorAll('.charts')].map(
      e => e.getBoundingClientRect().bottom + window.scrollY)),
  };
}"""


@dataclass
class PageCheck:
    """What the browser saw of one page."""

    errors: list[str] = field(default_factory=list)  # console errors, uncaught exceptions
    requests: list[str] = field(default_factory=list)  # URLs beyond the page (refused)
    svg_boxes: list[tuple[float, float]] = field(default_factory=list)  # width, height
    chart_marks: list[int] = field(default_factory=list)  # drawn marks per chart

    @property
    def empty_svgs(self) -> int:
        return sum(1 for w, h in self.svg_boxes if not (w > 0 and h > 0))

    @property
    def problems(self) -> list[str]:
        out = [*self.errors, *(f"request for {url}" for url in self.requests)]
        if self.empty_svgs:
            out.append(f"{self.empty_svgs} of {len(self.svg_boxes)} <svg> drawn with no size")
        out += [f"chart {i + 1} has nothing drawn" for i, n in enumerate(self.chart_marks) if not n]
        return out


def unavailable() -> str | None:
    """Why the browser cannot run here (None when it can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing: pip install -e '.[dev]'"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        return f"no Chromium at {CHROMIUM}" + (f" (there is {found})" if found else "")
    return None


@contextmanager
def _page() -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    # a persistent context on a fresh directory: a user data dir of its own, used once
    with (
        tempfile.TemporaryDirectory(prefix="idstitch-chromium-") as profile,
        sync_playwright() as p,
    ):
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            args=list(CHROMIUM_ARGS),
            headless=True,
            viewport={"width": WIDTH, "height": HEIGHT},
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def check_page(html: Path, screenshot: Path | None = None) -> PageCheck:
    """Open `html` in headless Chromium and measure it; with `screenshot`, save a PNG of the
    page from the top to the end of the charts."""
    url = html.resolve().as_uri()
    check = PageCheck()
    with _page() as page:

        def on_console(message: Any) -> None:
            if message.type == "error":
                check.errors.append(f"console error: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: check.errors.append(f"page error: {error}"))

        def on_route(route: Any) -> None:  # the page itself loads; anything else is refused
            if route.request.url == url:
                route.continue_()
            else:
                check.requests.append(route.request.url)
                route.abort()

        page.route("**/*", on_route)
        response = page.goto(url, wait_until="load")
        if response is not None and not response.ok:
            check.errors.append(f"{url}: status {response.status}")
        measured = page.evaluate(_MEASURE)
        check.svg_boxes = [(float(w), float(h)) for w, h in measured["svgs"]]
        check.chart_marks = [int(n) for n in measured["marks"]]
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            bottom = float(measured["bottom"]) if measured["marks"] else 0.0
            if bottom > 0:
                clip: FloatRect = {"x": 0, "y": 0, "width": WIDTH, "height": bottom + 24}
                page.screenshot(path=str(screenshot), full_page=True, clip=clip)
            else:
                page.screenshot(path=str(screenshot), full_page=True)
    return check


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("html", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("png", required=False, type=click.Path(path_type=Path, dir_okay=False))
def main(html: Path, png: Path | None) -> None:
    """Open the audit report HTML in headless Chromium, check it rendered (no errors, every
    chart drawn), and save a screenshot to PNG if given (e.g. docs/audit-report.png)."""
    reason = unavailable()
    if reason:
        click.echo(f"error: {reason}; {INSTALL_HINT}", err=True)
        sys.exit(2)
    check = check_page(html, png)
    click.echo(
        f"{len(check.svg_boxes)} <svg>, {len(check.chart_marks)} charts "
        f"({', '.join(map(str, check.chart_marks))} marks drawn)"
    )
    if png is not None:
        click.echo(f"screenshot: {png}")
    for problem in check.problems:
        click.echo(f"problem: {problem}", err=True)
    if check.problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
