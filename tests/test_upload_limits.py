"""Upload size limits: anything above MAX_CONTENT_LENGTH is refused with 413 and a clear message,
as JSON on the API and as a page (the import form) elsewhere, and nothing is stored."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import Visit

from .conftest import csrf_from, visit_payload

LIMIT = 4096


def _rep_at_the_api(client, auth, make):
    """A logged-in rep reading English, with a customer and a CSRF token."""
    rep = make.user("rep")
    customer = make.customer(rep=rep)
    auth.login(rep)
    client.set_cookie("fieldlog_lang", "en")
    return customer, auth.csrf()


def test_an_oversized_api_body_is_a_clear_413(app, client, auth, make):
    customer, token = _rep_at_the_api(client, auth, make)
    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    payload = visit_payload(customer, note="x" * (2 * LIMIT))
    response = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    assert response.status_code == 413
    body = response.get_json()
    assert body["error"] == "too_large"
    assert body["message"] == "The request is larger than 4 KB, the most the server accepts."
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    # Under the limit a visit goes through.
    small = visit_payload(customer, note="x" * 100)
    response = client.post("/api/v1/visits", json=small, headers={"X-CSRFToken": token})
    assert response.status_code == 201


def test_an_oversized_import_upload_is_a_clear_413_page(app, client, auth, make):
    owner = make.user("owner")
    auth.login(owner)
    client.set_cookie("fieldlog_lang", "en")
    token = csrf_from(client.get("/import").get_data(as_text=True))
    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    response = client.post(
        "/import",
        data={
            "csrf_token": token,
            "kind": "customers",
            "file": (io.BytesIO(b"code,name\n" + b"1,x\n" * LIMIT), "big.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert "larger than" in html and "Split it into smaller files" in html


def test_the_default_limit_is_64_mb(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024 * 1024


def test_an_oversized_upload_by_someone_who_may_not_import_is_a_plain_413(app, client, auth, make):
    """Logged out or a rep: the generic 413 page, not a crash or the import form."""
    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    client.set_cookie("fieldlog_lang", "en")
    for login in (None, make.user("rep")):
        if login is not None:
            auth.login(login)
        big = {"file": (io.BytesIO(b"x" * (2 * LIMIT)), "big.csv")}
        response = client.post("/import", data=big, content_type="multipart/form-data")
        assert response.status_code == 413
        html = response.get_data(as_text=True)
        assert "larger than 4 KB" in html and 'name="kind"' not in html


def test_a_json_or_form_body_above_1_mb_is_a_clear_413_not_a_422(app, client, auth, make):
    """A 20 MB JSON body, far under MAX_CONTENT_LENGTH (uploads), is refused unread."""
    customer, token = _rep_at_the_api(client, auth, make)
    payload = visit_payload(customer, note="x" * (20 << 20))
    response = client.post("/api/v1/visits", json=payload, headers={"X-CSRFToken": token})
    assert response.status_code == 413
    assert response.get_json() == {
        "error": "too_large",
        "message": "The request is larger than 1 MB, the most the server accepts.",
    }
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    # A url-encoded form (no files either) has the same limit, said on the error page.
    response = client.post("/visits/new", data={"csrf_token": token, "note": "x" * (2 << 20)})
    assert response.status_code == 413
    assert "larger than 1 MB" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Visit)) == 0
    # Uploads (multipart) and other bodies keep MAX_CONTENT_LENGTH.
    with app.test_request_context("/import", method="POST", content_type="text/csv"):
        from flask import request

        assert request.max_content_length == app.config["MAX_CONTENT_LENGTH"] > (20 << 20)
