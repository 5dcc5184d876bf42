"""Headless Chromium: the email as a phone (375 px) and a desktop client (600 px) show it.

``mailer preview --screenshots`` saves PNGs beside ``index.html`` in light and dark mode so a
person can look before sending; the rendering check opens pages the same way. Chromium is the
system's (Debian: ``apt-get install chromium``), driven by Playwright; nothing is downloaded and
a page may load only local files, so a preview never reaches out to the internet.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from mailer.errors import ToolFailed, ToolMissing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
WIDTHS = (375, 600)
Scheme = Literal["light", "dark"]
SCHEMES: tuple[Scheme, ...] = ("light", "dark")
VIEWPORT_HEIGHT = 800
INSTALL_HINT = "apt-get install chromium"


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium for the duration of the ``with`` block."""
    path = find_chromium()
    if path is None:
        raise ToolMissing(f"chromium not found ({INSTALL_HINT})")
    # Imported here: Playwright costs a noticeable fraction of a second, and only this needs it.
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        raise ToolMissing(
            "Playwright is not installed: pip install 'newsletter-as-code[browser]' "
            "(it drives chromium)"
        ) from None

    try:
        playwright = sync_playwright().start()
    except Error as exc:  # such as being called inside a running asyncio loop
        raise ToolFailed(f"cannot drive chromium here: {_first_line(exc)}") from None
    try:
        try:
            browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        except Error as exc:
            raise ToolFailed(f"chromium ({path}) did not start: {_first_line(exc)}") from None
        try:
            yield browser
        except Error as exc:
            raise ToolFailed(f"chromium failed: {_first_line(exc)}") from None
        finally:
            browser.close()
    finally:
        playwright.stop()


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def open_page(browser: Browser, html: Path, width: int, scheme: Scheme = "light") -> Page:
    """``html`` in a fresh context of ``width`` CSS pixels; close it with ``page.context``."""
    context = browser.new_context(
        viewport={"width": width, "height": VIEWPORT_HEIGHT}, color_scheme=scheme
    )
    page = context.new_page()
    page.route("**/*", _local_only)
    page.goto(html.resolve().as_uri(), wait_until="load")
    return page


def each_view(browser: Browser, html: Path) -> Iterator[tuple[int, Scheme, Page]]:
    """``html`` at each width, light then dark, in one page that is resized and switched
    between colour schemes (a fresh page for each view costs far more than the change)."""
    page = open_page(browser, html, WIDTHS[0], SCHEMES[0])
    try:
        for scheme in SCHEMES:
            page.emulate_media(color_scheme=scheme)
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": VIEWPORT_HEIGHT})
                yield width, scheme, page
    finally:
        page.context.close()


def _local_only(route: Route) -> None:
    url = route.request.url
    if url.startswith(("file:", "data:")) or urlsplit(url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def take_screenshots(html: Path) -> list[Path]:
    """Full-page PNGs of ``html`` at each width, light and dark, saved beside it as
    ``screenshot-375-light.png`` and so on."""
    saved = []
    with chromium() as browser:
        for width, scheme, page in each_view(browser, html):
            path = html.parent / f"screenshot-{width}-{scheme}.png"
            page.screenshot(path=str(path), full_page=True)
            saved.append(path)
    return saved
