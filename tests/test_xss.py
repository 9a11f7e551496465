"""Hostile text in every free-text field is shown as text, never as markup."""

from __future__ import annotations

import pytest

from fieldlog.app.extensions import db

PAYLOAD = '"><script>alert(1)</script><img src=x onerror=alert(2)>'


@pytest.fixture
def hostile(make):
    branch = make.branch("TKY", PAYLOAD[:40])
    rep = make.user("rep", branch, name=PAYLOAD)
    manager = make.user("manager", branch)
    customer = make.customer(branch, rep, code="C-X", name=PAYLOAD, name_kana=PAYLOAD[:60])
    make.category("OIL", PAYLOAD)
    visit = make.visit(
        rep,
        customer,
        purpose_note=PAYLOAD,
        hearing_note=PAYLOAD,
        note=PAYLOAD,
        proposal={"category": "OIL", "note": PAYLOAD},
        next_action={"action": PAYLOAD, "due_on": "2026-11-23"},
    )
    db.session.commit()
    return {"rep": rep, "manager": manager, "visit": visit, "customer": customer}


def _pages(hostile):
    visit, customer = hostile["visit"], hostile["customer"]
    return [
        "/",
        "/visits",
        f"/visits/{visit.id}",
        f"/visits/{visit.id}/edit",
        "/proposals",
        "/customers",
        f"/customers/{customer.id}",
        f"/visits/new?customer={customer.code}",
    ]


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_free_text_is_escaped_on_every_page(client, auth, hostile, role):
    auth.login(hostile[role])
    for path in _pages(hostile):
        response = client.get(path)
        if response.status_code in (403, 404):
            continue
        html = response.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html, path
        assert "<img src=x onerror" not in html, path
        assert response.status_code == 200, path
    detail = client.get(f"/visits/{hostile['visit'].id}").get_data(as_text=True)
    assert detail.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # notes shown, as text


def test_free_text_is_returned_verbatim_as_json(client, auth, hostile):
    auth.login(hostile["rep"])
    data = client.get("/api/v1/offline-data").get_json()
    assert data["customers"][0]["name"] == PAYLOAD
