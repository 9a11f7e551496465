"""The installable app: manifest, service worker, offline pages and offline data."""

from __future__ import annotations

import json
import re
from datetime import date

from fieldlog.app.extensions import db
from fieldlog.models import FollowUp

from .conftest import csrf_from


def test_manifest_is_installable(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["short_name"] == "FieldLog"
    assert manifest["lang"] == "ja"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/")
    assert manifest["theme_color"]
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in manifest["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        width = int.from_bytes(image.data[16:20], "big")
        assert f"{width}x{width}" == icon["sizes"]
        image.close()


def test_service_worker_is_served_at_the_root_without_caching(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Service-Worker-Allowed"] == "/"
    body = response.get_data(as_text=True)
    version = re.search(r'const VERSION = "([0-9a-f]{12})"', body)
    assert version, body[:300]
    for path in ("/static/css/app.css", "/static/js/app.mjs", "/static/js/outbox-core.mjs"):
        assert path in body
    assert '"/outbox"' in body and '"/offline"' in body


def test_service_worker_version_follows_the_shell(app, client):
    first = client.get("/sw.js").get_data(as_text=True)
    app.extensions.pop("fieldlog_asset_version")
    assert client.get("/sw.js").get_data(as_text=True) == first


def test_offline_page_needs_no_login(client):
    response = client.get("/offline")
    assert response.status_code == 200
    assert "オフライン" in response.get_data(as_text=True)


def test_pages_carry_the_user_and_no_inline_script(client, auth, make):
    rep = make.user("rep")
    db.session.commit()
    auth.login(rep)
    html = client.get("/outbox").get_data(as_text=True)
    assert f'<meta name="fieldlog-user" content="{rep.email}">' in html
    assert 'id="fieldlog-i18n"' in html
    for script in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        attributes, _content = script
        assert "src=" in attributes or 'type="application/json"' in attributes
    assert "onclick" not in html and 'style="' not in html


def test_the_outbox_banner_shows_everywhere_but_on_the_outbox_itself(client, auth, make):
    rep = make.user("rep")
    db.session.commit()
    auth.login(rep)
    assert 'id="outbox-banner"' in client.get("/visits").get_data(as_text=True)
    outbox = client.get("/outbox").get_data(as_text=True)
    assert 'id="outbox-banner"' not in outbox and outbox.count("data-sync-now") == 1


def test_offline_data_lists_the_branch_customers_and_own_open_follow_ups(client, auth, make):
    rep = make.user("rep")
    colleague = make.user("rep", rep.branch)
    mine = make.customer(rep=rep, code="C-1", name_kana="ヤマダ", rank="A")
    theirs = make.customer(rep.branch, colleague, code="C-2", visit_cycle_days=7)
    make.customer(code="C-9")  # another branch
    make.customer(rep.branch, rep, code="C-OLD", active=False)
    visit = make.visit(rep, mine, next_action={"action": "電話", "due_on": "2026-11-30"})
    done = FollowUp(
        rep=rep,
        branch=rep.branch,
        customer=mine,
        action="済",
        due_on=date(2026, 11, 20),
        done_on=date(2026, 11, 20),
    )
    db.session.add(done)
    make.visit(colleague, theirs, next_action={"action": "訪問", "due_on": "2026-11-30"})
    db.session.commit()
    auth.login(rep)
    data = client.get("/api/v1/offline-data").get_json()
    assert data["user"] == rep.email
    codes = [c["code"] for c in data["customers"]]
    assert codes == ["C-1", "C-2"]
    first = data["customers"][0]
    assert first["own"] is True and first["visit_cycle_days"] == 14
    assert "やまだ" in first["search"]
    assert first["open_follow_ups"] == [
        {"id": visit.follow_ups[0].id, "action": "電話", "due_on": "2026-11-30"}
    ]
    assert data["customers"][1]["visit_cycle_days"] == 7
    assert data["customers"][1]["open_follow_ups"] == []
    assert [p["code"] for p in data["purposes"]][:2] == ["hearing", "proposal"]


def test_offline_data_requires_login(client):
    response = client.get("/api/v1/offline-data")
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"


def _script_strings(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="fieldlog-i18n">(.*?)</script>', html)
    return json.loads(found.group(1))


def test_the_scripts_strings_follow_the_language_of_each_page(client):
    """Kept per language once said: a page in English after one in Japanese, and back."""
    japanese = client.get("/login").get_data(as_text=True)
    assert _script_strings(japanese)["retry"] == "再送する"
    client.post("/locale", data={"lang": "en", "next": "/login", "csrf_token": csrf_from(japanese)})
    english = client.get("/login").get_data(as_text=True)
    assert _script_strings(english)["retry"] == "Try again"
    client.post("/locale", data={"lang": "ja", "next": "/login", "csrf_token": csrf_from(english)})
    again = client.get("/login").get_data(as_text=True)
    assert _script_strings(again) == _script_strings(japanese)
