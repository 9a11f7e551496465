"""Time from tapping "save" on the visit form to "saved" on screen, online and offline.

Headless Chromium (Debian's) against the app on loopback; "offline" means the server is shut
down. The clock runs in the page (performance.now): from the click on the submit button to the
moment the "saved" toast is in the DOM. Baseline in the same run: a button on the same page
whose click handler only appends a toast (the browser's own click-to-paint floor).

    .venv/bin/python benchmarks/save_latency.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from pathlib import Path

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "bench-password"
WATCH = """() => {
    const button = document.querySelector('button[type=submit]');
    button.addEventListener('click', () => sessionStorage.setItem('t0', performance.now()),
                            { capture: true });
    new MutationObserver(() => {
        if (document.getElementById('toast') && !sessionStorage.getItem('t1')) {
            sessionStorage.setItem('t1', performance.now());
        }
    }).observe(document.body, { childList: true, subtree: true });
}"""
BASELINE = """() => new Promise((resolve) => {
    const b = document.createElement('button');
    b.type = 'button';
    document.body.append(b);
    b.addEventListener('click', () => {
        const start = performance.now();
        const p = document.createElement('p');
        p.className = 'toast';
        p.textContent = 'saved';
        document.body.append(p);
        requestAnimationFrame(() => resolve(performance.now() - start));
    });
    b.click();
})"""


def serve(tmp: Path):
    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.models import Branch, Customer, User
    from fieldlog.services.accounts import set_password
    from fieldlog.services.defaults import ensure_defaults

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'latency.db'}",
            "FIELDLOG_SCHEDULER": False,
        }
    )
    with app.app_context():
        db.create_all()
        ensure_defaults(db.session)
        branch = Branch(code="TKY", name="東京支店")
        rep = User(email="rep@example.jp", name="佐藤", role="rep", branch=branch)
        set_password(rep, PASSWORD)
        db.session.add_all([rep, Customer(code="C1", name="青空商店", branch=branch, rep=rep)])
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def one_save(page, base: str) -> float:
    page.goto(f"{base}/visits/new?customer=C1")
    page.evaluate("() => { sessionStorage.removeItem('t0'); sessionStorage.removeItem('t1'); }")
    page.evaluate(WATCH)
    page.locator("label.chip", has_text="提案・商談").click()
    page.locator("label.chip", has_text="はい").first.click()
    page.locator("button[type=submit]").click()
    page.wait_for_url(f"{base}/", timeout=15000)
    t0, t1 = page.evaluate("() => [sessionStorage.getItem('t0'), sessionStorage.getItem('t1')]")
    return float(t1) - float(t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        server = serve(Path(tmp))
        base = f"http://127.0.0.1:{server.server_port}"
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, locale="ja-JP", bypass_csp=True
        )
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=email]", "rep@example.jp")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")
        page.goto(f"{base}/visits/new")
        page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15000)

        baseline = [page.evaluate(BASELINE) for _ in range(args.runs)]
        online = [one_save(page, base) for _ in range(args.runs)]
        server.shutdown()
        context.set_offline(True)
        offline = [one_save(page, base) for _ in range(args.runs)]
        browser.close()

    floor = statistics.median(baseline)
    print(f"median of {args.runs} runs, tap on save → 'saved' toast in the DOM")
    for name, values in (
        ("baseline (DOM only)", baseline),
        ("online", online),
        ("offline (server down)", offline),
    ):
        median = statistics.median(values)
        print(f"{name:<24}{median:>8.1f} ms   (×{median / floor:.1f} the baseline)")


if __name__ == "__main__":
    main()
