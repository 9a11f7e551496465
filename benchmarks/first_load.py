"""Bytes for a first load of the visit entry page (HTML + CSS + JS, gzip), no fonts.

Follows what the browser fetches: the page, its stylesheets and scripts, and the ES modules
they import (static and dynamic). Counts third-party requests (any URL not on the app). The
baseline, measured in the same run, is the login page.

    .venv/bin/python benchmarks/first_load.py
"""

from __future__ import annotations

import gzip
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ASSET = re.compile(r'<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"')
IMPORT = re.compile(r"""(?:import\s[^'"]*|import\()\s*['"](\./[^'"]+)['"]""")


def seeded_client(tmp: Path):
    from fieldlog import create_app
    from fieldlog.app.extensions import db
    from fieldlog.models import Branch, Category, Customer, User
    from fieldlog.services.accounts import set_password
    from fieldlog.services.defaults import ensure_defaults

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}",
            "WTF_CSRF_ENABLED": False,
            "FIELDLOG_SCHEDULER": False,
        }
    )
    with app.app_context():
        db.create_all()
        ensure_defaults(db.session)
        branch = Branch(code="TKY", name="東京支店")
        rep = User(email="rep@example.jp", name="佐藤", role="rep", branch=branch)
        set_password(rep, "bench-password")
        db.session.add(rep)
        for i in range(40):  # a realistic picker: a rep's 40 customers
            db.session.add(
                Customer(code=f"C{i:03d}", name=f"顧客{i}株式会社", branch=branch, rep=rep)
            )
        for i in range(8):
            db.session.add(Category(code=f"K{i}", name=f"カテゴリ{i}"))
        db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": "rep@example.jp", "password": "bench-password"})
    return app, client


def measure(client, path: str) -> tuple[int, int, list[str], list[str]]:
    """(raw bytes, gzip bytes, URLs fetched, third-party URLs)."""
    seen: list[str] = []
    third_party: list[str] = []
    raw = packed = 0
    queue = [path]
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.append(url)
        if not url.startswith("/") or url.startswith("//"):
            third_party.append(url)
            continue
        if url.endswith((".png", ".webmanifest", ".ico", ".woff2", ".ttf")):
            continue  # icons and fonts are not part of the page's first render budget
        response = client.get(url)
        body = response.get_data()
        response.close()
        raw += len(body)
        packed += len(gzip.compress(body, compresslevel=6))
        text = body.decode("utf-8", "replace")
        if url == path:
            queue += ASSET.findall(text)
        elif url.endswith((".js", ".mjs")):
            base = url.rsplit("/", 1)[0]
            queue += [f"{base}/{name[2:]}" for name in IMPORT.findall(text)]
    return raw, packed, seen, third_party


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app, client = seeded_client(Path(tmp))
        results = {path: measure(client, path) for path in ("/visits/new", "/")}
        # The baseline: the login page as a logged-out phone first sees it.
        results["/login"] = measure(app.test_client(), "/login")
    base_packed = results["/login"][1]
    print(f"{'page':<14}{'files':>6}{'raw KB':>9}{'gzip KB':>9}{'3rd-party':>11}{'vs login':>10}")
    for path, (raw, packed, seen, third) in results.items():
        print(
            f"{path:<14}{len(seen):>6}{raw / 1024:>9.1f}{packed / 1024:>9.1f}{len(third):>11}"
            f"{packed / base_packed:>10.2f}"
        )
    print("files of /visits/new:", ", ".join(results["/visits/new"][2]))


if __name__ == "__main__":
    main()
