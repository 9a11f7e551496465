"""Fault injection on the sync path, end to end in headless Chromium against the app on loopback.

The faults are made with Playwright's `context.route`, which in this Chromium sees both the
page's API calls (they pass through the service worker, which leaves them to the network) and
the service worker's own requests; browser offline emulation would miss the latter
(docs/decisions.md).
One server and one browser serve every scenario; each scenario has its own rep and its own
browser context (cookies, IndexedDB, service worker), so they cannot see each other's entries.

After each fault: the server holds each entry exactly once (by `client_id`) and the phone lost
nothing without telling the user (the outbox page and the banners say what waits).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from fieldlog.app.extensions import db
from fieldlog.models import Branch, Customer, User, Visit
from fieldlog.services.accounts import set_password

from .browser import (
    launch_chromium,
    log_in,
    sqlite_app,
    wait_until,
)
from .conftest import PASSWORD

# The server always runs on its own SQLite file: the PostgreSQL pass deselects this module.
pytestmark = [pytest.mark.browser, pytest.mark.own_sqlite]

VISITS = "**/api/v1/visits"
# Generous: the machine is shared and the service worker's install precaches the whole shell.
WAIT = 30000
# Counts the app's sync runs: each run ends with a `fieldlog:outbox-changed` event.
COUNT_RUNS = """window.addEventListener('fieldlog:outbox-changed', () => {
    window.fieldlogRuns = (window.fieldlogRuns || 0) + 1;
});"""
# The outbox as the app keeps it, read straight from IndexedDB (after the app created it).
OUTBOX = """() => new Promise((resolve, reject) => {
    const open = indexedDB.open('fieldlog');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
        const all = open.result.transaction('outbox').objectStore('outbox').getAll();
        all.onsuccess = () => { open.result.close(); resolve(all.result); };
    };
})"""


class Faults:
    """What the network does to one phone's visit POSTs: the planned faults in order, then
    `default` for every later request."""

    def __init__(self) -> None:
        self.plan: list[str] = []
        self.default = "pass"
        self.held: list[Any] = []
        self.posts = 0

    def __call__(self, route: Any) -> None:
        self.posts += 1
        action = self.plan.pop(0) if self.plan else self.default
        if action == "pass":
            route.continue_()
        elif action == "drop":  # the connection breaks before the server sees the request
            route.abort("connectionreset")
        elif action == "lost":  # the server commits, the answer never reaches the phone
            route.fetch()
            route.abort("connectionreset")
        elif action == "500":  # the server commits, then a proxy or a crash answers 500
            route.fetch()
            route.fulfill(status=500, json={"error": "server_error"})
        elif action == "fail":  # the server fails on this entry every time, storing nothing
            route.fulfill(status=500, json={"error": "server_error", "message": "壊れました"})
        elif action == "bad_csrf":  # the token went stale (e.g. another login on the phone)
            route.continue_(headers={**route.request.headers, "x-csrftoken": "stale-token"})
        elif action == "hold":  # the server is slow: the test decides when it answers
            self.held.append(route)
        else:
            raise AssertionError(f"unknown fault {action}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    path: Path = tmp_path_factory.mktemp("faults") / "faults.db"
    app = sqlite_app(path, TESTING=True)
    with app.app_context():
        db.session.add(Branch(code="TKY", name="東京支店"))
        db.session.commit()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


def make_rep(app: Any, name: str) -> str:
    """A rep of their own with customers `<NAME>-1..3`; returns the email."""
    email = f"{name}@example.jp"
    with app.app_context():
        branch = db.session.scalars(select(Branch).filter_by(code="TKY")).one()
        rep = User(email=email, name=name, role="rep", branch=branch)
        set_password(rep, PASSWORD)
        db.session.add(rep)
        for n in (1, 2, 3):
            db.session.add(
                Customer(code=f"{name.upper()}-{n}", name=f"{name} {n}", branch=branch, rep=rep)
            )
        db.session.commit()
        db.session.remove()
    return email


def stored(app: Any, email: str) -> list[str]:
    """The client_ids of this rep's visits on the server, one per stored visit."""
    with app.app_context():
        ids = list(db.session.scalars(select(Visit.client_id).join(User).filter_by(email=email)))
        db.session.remove()
    return sorted(ids)


@contextmanager
def phone(chromium: Any, base: str, email: str, *, clock: bool = False) -> Iterator[Any]:
    """A logged-in phone whose visit POSTs go through `Faults`; yields (context, page, faults)."""
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, locale="ja-JP", bypass_csp=True
    )
    try:
        if clock:
            context.clock.install()
        faults = Faults()
        context.route(VISITS, faults)
        context.add_init_script(COUNT_RUNS)
        page = context.new_page()
        log_in(page, base, email, PASSWORD)
        page.wait_for_url(f"{base}/")
        # A page whose navigation began before the worker activated stays uncontrolled even
        # after `clients.claim()`: once the worker is ready, a reload is controlled for sure.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.reload()
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT)
        yield context, page, faults
    finally:
        context.close()


def log_visit(page: Any, base: str, code: str) -> None:
    """Log a typical visit through the form; the app goes back to Today."""
    page.goto(f"{base}/visits/new")
    page.select_option("#customer_code", code)
    page.locator("label.chip", has_text="提案・商談").click()
    page.locator("label.chip", has_text="はい").first.click()
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/", timeout=WAIT)


def log_waiting(page: Any, base: str, faults: Faults, codes: list[str]) -> list[str]:
    """Log visits while the connection drops: they wait in the outbox; returns their ids."""
    faults.default = "drop"
    for code in codes:
        log_visit(page, base, code)
    ids = sorted(entry["id"] for entry in page.evaluate(OUTBOX))
    assert len(ids) == len(codes)
    return ids


def outbox(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(OUTBOX)


def wait_idle(page: Any) -> None:
    """Until no sync runs: the app holds the `fieldlog-sync` lock for each run, requested as
    soon as a run is asked for, so the answers of the run are all handled once it is free."""
    wait_until(
        page,
        "navigator.locks.query().then((s) => ![...s.held, ...s.pending]"
        ".some((l) => l.name === 'fieldlog-sync'))",
        "the sync to end",
    )


def shows_waiting(page: Any, waiting: int) -> None:
    """The outbox page on screen lists `waiting` entries as waiting to sync (none needing
    attention), and the badge in the menu says so too."""
    page.wait_for_function(
        f"document.querySelectorAll('.outbox-entry.is-pending').length === {waiting}",
        timeout=WAIT,
    )
    assert page.locator(".outbox-entry.is-attention").count() == 0
    assert page.locator("[data-outbox-count]").first.inner_text() == str(waiting)


def open_outbox(page: Any, base: str, waiting: int) -> None:
    """Open the outbox page (faults still on: its own sync fails) and see what waits."""
    page.goto(f"{base}/outbox")
    wait_idle(page)
    shows_waiting(page, waiting)


def sync_now(page: Any, *, wait: bool = True) -> None:
    """Tap "sync now" on the outbox page and, unless told not to, wait for the run to end."""
    runs = page.evaluate("window.fieldlogRuns || 0")
    page.locator("button.button-primary[data-sync-now]").click()
    if wait:
        page.wait_for_function(f"(window.fieldlogRuns || 0) > {runs}", timeout=WAIT)
        wait_idle(page)


def wait_synced(page: Any) -> None:
    """The outbox page says nothing waits, and the phone's outbox is empty."""
    page.wait_for_selector("#outbox-list .empty", timeout=WAIT)
    assert outbox(page) == []


def wait_held(page: Any, faults: Faults, count: int = 1) -> None:
    """Until the slow server has `count` requests in hand (bounded; not a timed assertion)."""
    for _ in range(300):
        if len(faults.held) >= count:
            return
        page.wait_for_timeout(50)
    pytest.fail("the sync never sent its request")


def test_dropped_request_keeps_the_entry_and_sends_it_once(server, chromium):
    app, base = server
    email = make_rep(app, "drop")
    with phone(chromium, base, email) as (context, page, faults):
        ids = log_waiting(page, base, faults, ["DROP-1"])
        assert page.locator("[data-outbox-count]").first.inner_text() == "1"
        open_outbox(page, base, 1)
        assert outbox(page)[0]["attempts"] >= 1
        assert stored(app, email) == []

        # Every connection drops, the service worker's own included (routing sees them, which
        # offline emulation would not): the outbox page opens from the worker's cache.
        from_worker: list[str] = []

        def down(route: Any) -> None:
            if route.request.service_worker is not None:
                from_worker.append(route.request.url)
            route.abort("connectionreset")

        context.route("**/*", down)
        page.reload()
        wait_idle(page)
        shows_waiting(page, 1)
        assert f"{base}/outbox" in from_worker
        assert stored(app, email) == []
        context.unroute("**/*", down)

        faults.default = "pass"
        sync_now(page)
        wait_synced(page)
    assert stored(app, email) == ids


def test_committed_but_answer_lost_is_not_stored_twice(server, chromium):
    app, base = server
    email = make_rep(app, "lost")
    with phone(chromium, base, email) as (_, page, faults):
        ids = log_waiting(page, base, faults, ["LOST-1", "LOST-2"])
        open_outbox(page, base, 2)
        first = min(outbox(page), key=lambda e: e["createdAt"])
        faults.default = "pass"
        faults.plan = ["lost"]
        sync_now(page)
        # The server has the first visit; the phone never heard so and still shows both.
        assert stored(app, email) == [first["id"]]
        shows_waiting(page, 2)

        sync_now(page)
        wait_synced(page)
    assert stored(app, email) == ids


def test_500_after_commit_is_retried_and_stored_once(server, chromium):
    app, base = server
    email = make_rep(app, "err")
    with phone(chromium, base, email) as (_, page, faults):
        ids = log_waiting(page, base, faults, ["ERR-1", "ERR-2"])
        open_outbox(page, base, 2)
        first = min(outbox(page), key=lambda e: e["createdAt"])
        faults.default = "pass"
        faults.plan = ["500"]
        sync_now(page)
        # A 500 does not stop the run: the second goes through, the first waits to retry.
        shows_waiting(page, 1)
        assert [e["id"] for e in outbox(page)] == [first["id"]]
        assert outbox(page)[0]["lastStatus"] == 500
        assert stored(app, email) == ids

        sync_now(page)
        wait_synced(page)
    assert stored(app, email) == ids


def test_repeated_500_needs_attention_with_the_servers_message(server, chromium):
    app, base = server
    email = make_rep(app, "broken")
    with phone(chromium, base, email) as (_, page, faults):
        faults.default = "fail"
        log_visit(page, base, "BROKEN-1")
        # Online, a 5xx is never "saved, will sync when online": the toast says the server failed.
        toast = page.locator("#toast")
        toast.wait_for(timeout=WAIT)
        assert "サーバーがエラー" in toast.inner_text(), toast.inner_text()
        page.goto(f"{base}/outbox")
        wait_idle(page)
        for _ in range(5):  # each run is one more try; the third failure in a row stops them
            if page.locator(".outbox-entry.is-attention").count():
                break
            sync_now(page)
        card = page.locator(".outbox-entry.is-attention")
        card.wait_for(timeout=WAIT)
        assert outbox(page)[0]["attempts"] == 3 and outbox(page)[0]["state"] == "attention"
        assert "壊れました (HTTP 500)" in card.inner_text()
        assert card.locator("a", has_text="修正").count() == 1
        assert card.locator("button", has_text="破棄").count() == 1
        posts = faults.posts
        sync_now(page, wait=False)  # an entry needing attention is not sent behind the rep's back
        wait_idle(page)
        assert faults.posts == posts
        assert stored(app, email) == []

        faults.default = "pass"
        card.locator("button", has_text="再送する").click()
        wait_synced(page)
    assert len(stored(app, email)) == 1


def test_timeout_then_late_commit_is_stored_once(server, chromium):
    app, base = server
    email = make_rep(app, "slow")
    # A fake clock in the page: the client's 15 s timeout passes without waiting for it.
    with phone(chromium, base, email, clock=True) as (_, page, faults):
        ids = log_waiting(page, base, faults, ["SLOW-1"])
        open_outbox(page, base, 1)
        attempts = outbox(page)[0]["attempts"]
        faults.default = "pass"
        faults.plan = ["hold"]
        sync_now(page, wait=False)
        wait_held(page, faults)
        runs = page.evaluate("window.fieldlogRuns || 0")
        page.clock.run_for(16_000)
        page.wait_for_function(f"window.fieldlogRuns > {runs}", timeout=WAIT)
        wait_idle(page)
        assert outbox(page)[0]["attempts"] == attempts + 1
        assert outbox(page)[0]["lastStatus"] == 0
        # The slow server finishes after the phone gave up: it stores the visit, too late.
        late = faults.held.pop()
        late.fetch()
        with suppress(Exception):
            late.abort()
        assert stored(app, email) == ids
        shows_waiting(page, 1)

        sync_now(page)
        wait_synced(page)
    assert stored(app, email) == ids


def test_reload_in_the_middle_of_a_sync_loses_and_doubles_nothing(server, chromium):
    app, base = server
    email = make_rep(app, "reload")
    with phone(chromium, base, email) as (_, page, faults):
        ids = log_waiting(page, base, faults, ["RELOAD-1", "RELOAD-2"])
        open_outbox(page, base, 2)
        faults.default = "pass"
        faults.plan = ["hold"]
        sync_now(page, wait=False)
        wait_held(page, faults)
        # The server commits the first visit; before its answer arrives the page reloads.
        interrupted = faults.held.pop()
        interrupted.fetch()
        page.reload()
        with suppress(Exception):
            interrupted.abort()
        assert len(stored(app, email)) == 1

        # Whatever the reloaded page already sent, the rest goes with "sync now".
        page.wait_for_selector("#outbox-list > *")
        sync_now(page)
        wait_synced(page)
    assert stored(app, email) == ids


def test_expired_session_keeps_the_entry_asks_to_log_in_then_syncs(server, chromium):
    app, base = server
    email = make_rep(app, "expired")
    with phone(chromium, base, email) as (context, page, faults):
        ids = log_waiting(page, base, faults, ["EXPIRED-1"])
        open_outbox(page, base, 1)
        for _ in range(5):  # a bad afternoon: the next try is now a minute away
            sync_now(page)
        assert outbox(page)[0]["attempts"] >= 6
        # Nothing in flight: an answer arriving later would set the session cookie again.
        page.wait_for_load_state("networkidle")
        wait_idle(page)
        context.clear_cookies()  # the session ended (expired, or logged out elsewhere)
        faults.default = "pass"
        page.locator("button.button-primary[data-sync-now]").click()
        page.locator("#auth-banner").wait_for(state="visible")
        assert page.locator(".outbox-entry").count() == 1
        assert page.locator("[data-outbox-count]").first.inner_text() == "1"
        assert [e["id"] for e in outbox(page)] == ids
        assert stored(app, email) == []

        page.locator("#auth-banner a").click()
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        # Logged in again, the app sends what waited at once: no "sync now", no back-off.
        wait_until(page, f"({OUTBOX})().then((all) => all.length === 0)", "the outbox to empty")
        assert page.locator("#auth-banner").is_hidden()
    assert stored(app, email) == ids


def test_csrf_failure_refreshes_the_token_and_retries(server, chromium):
    app, base = server
    email = make_rep(app, "csrf")
    with phone(chromium, base, email) as (_, page, faults):
        ids = log_waiting(page, base, faults, ["CSRF-1"])
        open_outbox(page, base, 1)
        faults.default = "pass"
        faults.plan = ["bad_csrf"]
        posts = faults.posts
        sync_now(page)
        wait_synced(page)
        assert faults.posts == posts + 2  # refused once, then sent with a fresh token
        assert page.locator("#auth-banner").is_hidden()
        assert stored(app, email) == ids

        # A token that stays bad: the entry is kept and the user is asked to log in again.
        ids += log_waiting(page, base, faults, ["CSRF-2"])
        ids.sort()
        open_outbox(page, base, 1)
        faults.plan = ["bad_csrf", "bad_csrf"]
        faults.default = "pass"
        sync_now(page)
        page.locator("#auth-banner").wait_for(state="visible")
        shows_waiting(page, 1)

        sync_now(page)
        wait_synced(page)
    assert stored(app, email) == ids


def _shell_caches(page: Any) -> list[str]:
    return sorted(k for k in page.evaluate("caches.keys()") if k.startswith("fieldlog-shell-"))


def _deploy(app: Any, version: str) -> None:
    """A new release: the service worker's script (its version) changes."""
    app.extensions["fieldlog_asset_version"] = version


def test_service_worker_update_waits_for_the_outbox_and_entries_survive_it(server, chromium):
    app, base = server
    email = make_rep(app, "update")
    released = app.extensions.get("fieldlog_asset_version")
    try:
        with phone(chromium, base, email) as (context, page, faults):
            ids = log_waiting(page, base, faults, ["UPDATE-1", "UPDATE-2"])
            (old,) = _shell_caches(page)

            # A new version is offered while two entries wait; asking for it does not apply it.
            _deploy(app, "f5-second")
            open_outbox(page, base, 2)
            page.locator("#update-banner").wait_for(state="visible")
            page.locator("#update-apply").click()
            page.locator("#update-busy").wait_for(state="visible")
            waiting = "navigator.serviceWorker.getRegistration().then((r) => !!r.waiting)"
            assert page.evaluate(waiting)
            assert old in _shell_caches(page)

            # Every tab closed: the browser itself switches to the new worker; the entries stay.
            page.close()
            page = context.new_page()
            page.goto(f"{base}/outbox")
            wait_until(
                page,
                "caches.keys().then((keys) => keys.includes('fieldlog-shell-f5-second')"
                f" && !keys.includes('{old}'))",
                "the second version to be active",
            )
            open_outbox(page, base, 2)
            assert sorted(e["id"] for e in outbox(page)) == ids

            # Another release, asked for while entries wait: applied once they are sent.
            _deploy(app, "f5-third")
            page.reload()
            page.locator("#update-banner").wait_for(state="visible")
            page.locator("#update-apply").click()
            page.locator("#update-busy").wait_for(state="visible")
            assert stored(app, email) == []
            faults.default = "pass"
            sync_now(page)
            wait_until(
                page,
                "caches.keys().then((keys) => keys.includes('fieldlog-shell-f5-third')"
                " && !keys.includes('fieldlog-shell-f5-second'))",
                "the third version to be active",
            )
            wait_until(
                page,
                "navigator.serviceWorker.getRegistration().then((r) => !r.waiting)",
                "no worker left waiting",
            )
            wait_synced(page)
    finally:
        _deploy(app, released)
    assert stored(app, email) == ids
