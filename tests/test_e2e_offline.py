"""End to end in headless Chromium: visits logged with the server down are kept on the phone
and reach the server exactly once when it comes back.

"Offline" is real: the server is shut down (browser offline emulation does not cover the
service worker's own requests, docs/decisions.md).
"""

from __future__ import annotations

import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from fieldlog.app.extensions import db
from fieldlog.models import Branch, Category, Customer, FollowUp, Proposal, User, Visit
from fieldlog.rules.periods import today as local_today
from fieldlog.services.accounts import set_password
from fieldlog.services.visits import record_visit

from .browser import (
    ARGS,
    CHROMIUM,
    launch_chromium,
    log_in,
    phone,
    require_chromium,
    sqlite_app,
    wait_until,
)
from .conftest import PASSWORD


class Server:
    """The app on a fixed loopback port that can be stopped and started again."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.httpd.server_port
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.httpd is None:
            self.httpd = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        self.httpd = None


# The server here always runs on its own SQLite file: the PostgreSQL pass deselects it.
pytestmark = pytest.mark.own_sqlite


@pytest.fixture
def server(tmp_path: Path):
    app = sqlite_app(tmp_path / "offline.db", TESTING=True)
    with app.app_context():
        branch = Branch(code="TKY", name="東京支店")
        rep = User(email="rep@example.jp", name="佐藤", role="rep", branch=branch)
        set_password(rep, PASSWORD)
        db.session.add(rep)
        for code, name, kana in (
            ("C1", "青空商店", "アオゾラショウテン"),
            ("C2", "緑川工業", "ミドリカワコウギョウ"),
            ("C3", "白石製作所", None),
        ):
            db.session.add(Customer(code=code, name=name, name_kana=kana, branch=branch, rep=rep))
        db.session.add(Category(code="SAFE", name="安全用品"))
        db.session.commit()
        now = datetime.now(UTC)
        record_visit(
            db.session,
            rep,
            {
                "client_id": str(uuid.uuid4()),
                "customer_code": "C1",
                "visited_at": (now - timedelta(days=1)).isoformat(),
                "purpose": "proposal",
                "hearing_done": True,
                "proposal": {"category": "SAFE", "amount": 10000},
                "next_action": {
                    "action": "電話フォロー",
                    "due_on": local_today(ZoneInfo("Asia/Tokyo")).isoformat(),
                },
            },
            tz=ZoneInfo("Asia/Tokyo"),
            now=now,
        )
        db.session.commit()
    running = Server(app)
    running.start()
    yield running
    if running.httpd is not None:
        running.stop()


def _stored_client_ids(app) -> list[str]:
    with app.app_context():
        ids = list(db.session.scalars(select(Visit.client_id)))
        db.session.remove()
        return ids


def _open_controlled(page: Any, url: str, kept: tuple[str, ...]) -> None:
    """Open a page and wait until the worker controls it and keeps these pages offline."""
    page.goto(url)
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
    for path in kept:
        wait_until(
            page,
            f"caches.open('fieldlog-pages').then(c => c.match('{path}')).then(r => !!r)",
            f"{path} in the page cache",
        )


def outbox_entries(page: Any, field: str = "id") -> list[Any]:
    """One field of each entry waiting in the outbox (IndexedDB), whoever they belong to."""
    return page.evaluate(
        """(field) => new Promise((resolve) => {
            const open = indexedDB.open('fieldlog');
            open.onsuccess = () => {
                const all = open.result.transaction('outbox').objectStore('outbox').getAll();
                all.onsuccess = () => resolve(all.result.map((e) => e[field]));
            };
        })""",
        field,
    )


@pytest.mark.browser
def test_visits_logged_offline_sync_exactly_once(server):
    base = server.base
    with phone(base) as (context, page):
        # The service worker installs and precaches the shell and the pages.
        _open_controlled(page, f"{base}/visits/new", ("/visits/new", "/outbox", "/"))

        server.stop()
        context.set_offline(True)
        page.reload()
        assert page.locator("#visit-form").count() == 1, "the form did not load from the cache"

        for code in ("C1", "C2", "C3"):
            page.goto(f"{base}/visits/new")
            page.select_option("#customer_code", code)
            page.locator("label.chip", has_text="提案・商談").click()
            page.locator("label.chip", has_text="はい").first.click()
            page.locator("button[type=submit]").click()
            page.wait_for_url(f"{base}/", timeout=15000)

        # Close the page and open the outbox again, still offline.
        page.close()
        page = context.new_page()
        page.goto(f"{base}/outbox")
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 3", timeout=15000
        )
        assert len(_stored_client_ids(server.app)) == 1  # only the seeded visit
        waiting = outbox_entries(page)
        assert len(set(waiting)) == 3
        # "Sync now" without a connection says so, and keeps everything.
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_selector("#toast:has-text('接続がありません')")
        assert page.locator(".outbox-entry").count() == 3

        server.start()
        context.set_offline(False)
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 0", timeout=20000
        )
        # A second sync (e.g. another tab or a replay) changes nothing.
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_timeout(500)

    stored = _stored_client_ids(server.app)
    assert len(stored) == 4  # the seeded visit and the three logged offline
    assert set(waiting) <= set(stored)


OFFLINE_COPY = """() => new Promise((resolve) => {
    const open = indexedDB.open('fieldlog');
    open.onsuccess = () => {
        const kv = open.result.transaction('kv').objectStore('kv');
        const get = kv.get('offline-data:rep@example.jp');
        get.onsuccess = () => resolve(Boolean(get.result));
        get.onerror = () => resolve(false);
    };
    open.onerror = () => resolve(false);
})"""


def _search(page: Any, query: str, first: str) -> list[str]:
    """Type a query and wait until the results start with `first`: the names listed."""
    page.fill("#customer-search", query)
    page.locator("#customer-results li").first.filter(has_text=first).wait_for()
    return [text.split()[0] for text in page.locator("#customer-results li").all_inner_texts()]


@pytest.mark.browser
def test_customer_search_and_follow_ups_work_offline_from_the_cached_copy(server):
    base = server.base
    with phone(base) as (context, page):
        _open_controlled(page, f"{base}/visits/new", ("/visits/new",))
        wait_until(page, OFFLINE_COPY, "the offline copy in IndexedDB")

        server.stop()
        context.set_offline(True)
        page.reload()
        # The reading in hiragana finds the katakana one; the code matches whatever its case.
        assert _search(page, "みどりかわ", "緑川工業") == ["緑川工業"]
        assert _search(page, "c3", "白石製作所") == ["白石製作所"]
        assert _search(page, "該当なし", "該当する") == ["該当する顧客がありません。"]
        assert _search(page, "ｱｵｿﾞﾗ", "青空商店") == ["青空商店"]  # half-width kana
        page.locator("#customer-results button.result").first.click()
        assert page.input_value("#customer_code") == "C1"
        # The chosen customer's open follow-up comes from the same copy.
        follow_up = page.locator("#follow-ups input[name=completes_follow_ups]")
        follow_up.wait_for()
        assert "電話フォロー" in page.locator("#follow-ups").inner_text()


@pytest.mark.browser
def test_first_page_after_login_is_controlled_without_waiting_for_the_pages(server):
    """The worker takes control once the static shell is cached; the pages it keeps for
    offline use, which the server renders, never hold that back. Here they never answer."""

    base = server.base
    require_chromium()
    with launch_chromium() as browser:
        context = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        held: list[str] = []
        # Not answered, not failed: the requests stay pending, like a server that hangs.
        context.route(re.compile(r"/(visits/new|outbox|offline)$"), lambda r: held.append(r))
        page = context.new_page()
        log_in(page, base, "rep@example.jp", PASSWORD)
        page.wait_for_url(f"{base}/")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
        for _ in range(150):  # the pages were asked for, and are still unanswered
            if held:
                break
            page.wait_for_timeout(100)
        assert held, "the worker did not ask for the pages to keep"


def offline_on_proposals(server, context, page) -> None:
    """The proposals list under the service worker's control, then the network and server gone."""
    page.goto(f"{server.base}/proposals")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
    server.stop()
    context.set_offline(True)


@pytest.mark.browser
def test_one_tap_actions_wait_in_the_outbox_while_offline(server):
    base = server.base
    with phone(base) as (context, page):
        offline_on_proposals(server, context, page)
        page.locator("form[data-outbox] button[value=won]").click()
        page.wait_for_selector(".settled-note")
        page.goto(f"{base}/")
        page.locator("form[data-outbox=follow_up_done] button").click()
        page.wait_for_selector(".settled-note")
        with server.app.app_context():
            assert db.session.scalars(select(Proposal.status)).one() == "open"
            db.session.remove()

        server.start()
        context.set_offline(False)
        page.goto(f"{base}/outbox")
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 0", timeout=20000
        )

    with server.app.app_context():
        assert db.session.scalars(select(Proposal.status)).one() == "won"
        assert db.session.scalars(select(FollowUp.done_on)).one() is not None
        db.session.remove()


@pytest.mark.browser
def test_one_tap_results_say_what_the_rep_tapped_and_when_it_was_sent(server):
    base = server.base
    with phone(base) as (context, page):
        offline_on_proposals(server, context, page)
        page.locator("form[data-outbox] button[value=lost]").click()
        page.wait_for_selector(".settled-note")
        page.goto(f"{base}/outbox")
        page.locator(".outbox-entry").wait_for()
        waiting = page.locator("#outbox-list").inner_text()
        assert "青空商店 · 失注" in waiting and "lost" not in waiting, waiting

        server.start()
        context.set_offline(False)
        page.goto(f"{base}/")
        page.locator("form[data-outbox=follow_up_done] button").click()
        note = page.locator(".settled-note")
        note.wait_for()
        page.wait_for_function(
            "document.querySelector('.settled-note').textContent === '完了しました。'",
            timeout=20000,
        )
    with server.app.app_context():
        assert db.session.scalars(select(Proposal.status)).one() == "lost"
        assert db.session.scalars(select(FollowUp.done_on)).one() is not None
        db.session.remove()


@pytest.mark.browser
def test_a_follow_up_cancelled_on_the_customer_page_waits_offline_and_is_sent_once(server):
    """The customer page's Cancel goes through the outbox like Today's: asked first, kept
    while the server is down, sent once when it is back."""
    with server.app.app_context():
        follow_up = db.session.scalars(select(FollowUp)).one()
        follow_up_id, customer_id = follow_up.id, follow_up.customer_id
        db.session.remove()
    base = server.base
    with phone(base) as (context, page):
        page.goto(f"{base}/customers/{customer_id}")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=30000)
        form = f"form[data-outbox=follow_up_cancel][data-id='{follow_up_id}']"
        cancel = page.locator(f"{form} button")
        # A mis-tap answered "no" queues nothing and leaves the buttons.
        page.once("dialog", lambda d: d.dismiss())
        cancel.click()
        page.wait_for_timeout(500)
        assert cancel.is_visible() and outbox_entries(page) == []

        server.stop()
        context.set_offline(True)
        page.once("dialog", lambda d: d.accept())
        cancel.click()
        page.wait_for_selector(".settled-note")
        assert outbox_entries(page) == [f"follow_up_cancel:{follow_up_id}"]
        assert "電話フォロー" in outbox_entries(page, "label")[0]
        with server.app.app_context():
            assert not db.session.get(FollowUp, follow_up_id).cancelled
            db.session.remove()

        server.start()
        context.set_offline(False)
        page.goto(f"{base}/outbox")  # coming back online may have sent it already
        page.locator("button.button-primary[data-sync-now]").click()
        page.wait_for_function(
            "document.querySelectorAll('.outbox-entry').length === 0", timeout=20000
        )
        page.locator("button.button-primary[data-sync-now]").click()  # a replay changes nothing
        page.wait_for_timeout(500)
    with server.app.app_context():
        stored = db.session.get(FollowUp, follow_up_id)
        assert stored.cancelled and stored.done_on is None
        db.session.remove()


@pytest.mark.browser
def test_chromium_reports_no_installability_errors(server, tmp_path):
    from playwright.sync_api import sync_playwright

    base = server.base
    require_chromium()
    with sync_playwright() as p:
        # A persistent profile: Chromium refuses to install anything from an incognito context.
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=ARGS, headless=True
        )
        try:
            page = context.new_page()
            log_in(page, base, "rep@example.jp", PASSWORD)
            page.wait_for_url(f"{base}/")
            page.goto(f"{base}/visits/new")
            page.wait_for_load_state("networkidle")
            cdp = context.new_cdp_session(page)
            errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
            manifest = cdp.send("Page.getAppManifest")
        finally:
            context.close()
    assert errors == [], errors
    assert manifest["errors"] == []
    assert '"short_name":"FieldLog"' in manifest["data"].replace(" ", "")
