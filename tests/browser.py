"""What the browser tests share: Debian's Chromium, its flags, and logging in by the form."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling out on this closed network.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The committed screenshots are refreshed only on request, so a test run leaves the tree clean.
README_SHOTS = Path(__file__).resolve().parent.parent / "static" / "img" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("FIELDLOG_UPDATE_SCREENSHOTS") == "1"


def sqlite_app(path: Path, **config: Any) -> Any:
    """The app on its own SQLite file with the schema and the defaults, for a live server."""
    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.services.defaults import ensure_defaults

    app = create_app(
        {
            "SECRET_KEY": "browser-test-secret",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "FIELDLOG_SCHEDULER": False,
            **config,
        }
    )
    with app.app_context():
        db.create_all()
        ensure_defaults(db.session)
        db.session.commit()
    return app


def require_chromium() -> None:
    """Fail, never skip: browser tests are part of the suite; `.ci/setup --test` installs it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `bash .ci/setup --test` to install it")


@contextmanager
def launch_chromium() -> Iterator[Any]:
    """Debian's Chromium through Playwright, headless with ARGS; closed when the block ends."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def phone(base: str, email: str = "rep@example.jp", password: str | None = None) -> Iterator[Any]:
    """A phone-sized (390×844, Japanese) Chromium context and page, logged in by the form."""
    from .conftest import PASSWORD

    with launch_chromium() as browser:
        # Playwright's wait_for_function evaluates strings, which the app's CSP forbids;
        # the CSP itself is checked by the other browser test.
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="ja-JP", bypass_csp=True
        )
        page = context.new_page()
        log_in(page, base, email, password or PASSWORD)
        page.wait_for_url(f"{base}/")
        yield context, page


def desktop_page(
    browser: Any,
    base: str,
    email: str,
    password: str,
    errors: list[str],
    *,
    width: int = 1024,
    height: int = 1366,
) -> Any:
    """A Japanese page of its own context (close it with ``page.context.close()``), logged in
    by the form, whose console errors are appended to ``errors`` (CSP violations show there)."""
    page = browser.new_page(viewport={"width": width, "height": height}, locale="ja-JP")
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    log_in(page, base, email, password)
    return page


def screenshot_dir(tmp_path: Path) -> Path:
    return README_SHOTS if UPDATE_SCREENSHOTS else tmp_path


def log_in(page: Any, base: str, email: str, password: str) -> None:
    """Log in through the real form and wait for the landing page."""
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def wait_until(page: Any, expression: str, what: str, timeout_ms: int = 30000) -> None:
    """Until `expression` (which may give a promise) is true in the page. Playwright's
    `wait_for_function` takes a pending promise for true, so promises are polled from here."""
    from playwright.sync_api import Error

    for _ in range(timeout_ms // 50):
        try:
            if page.evaluate(expression):
                return
        except Error:  # the page navigated in between: ask the new one
            pass
        page.wait_for_timeout(50)
    pytest.fail(f"waited in vain for {what}")
