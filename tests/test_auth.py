"""Login, logout, sessions and throttling."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fieldlog.app.extensions import db
from fieldlog.models import LoginSession

from .conftest import PASSWORD, csrf_from


def login_form(client, email, password, remember=True):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    data = {"email": email, "password": password, "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def test_login_success_redirects_to_today(client, make):
    rep = make.user("rep")
    db.session.commit()
    response = login_form(client, rep.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_failed_login_says_the_same_for_email_and_password(client, make):
    rep = make.user("rep")
    db.session.commit()
    wrong_password = login_form(client, rep.email, "wrong-password")
    unknown_email = login_form(client, "nobody@example.jp", PASSWORD)
    assert wrong_password.status_code == unknown_email.status_code == 200
    message = "メールアドレスまたはパスワードが正しくありません。"
    assert message in wrong_password.get_data(as_text=True)
    assert message in unknown_email.get_data(as_text=True)


def test_inactive_user_cannot_log_in(client, make):
    rep = make.user("rep", active=False)
    db.session.commit()
    response = login_form(client, rep.email, PASSWORD)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.count("メールアドレスまたはパスワードが正しくありません。") == 1
    assert client.get("/").status_code == 302


def test_failed_login_message_in_english_is_one_message_too(client, make):
    rep = make.user("rep")
    db.session.commit()
    client.set_cookie("fieldlog_lang", "en")
    html = login_form(client, rep.email.upper(), "wrong-password").get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html
    assert html.count("The email or password is not correct.") == 1


def test_login_is_throttled_after_repeated_failures(client, make):
    rep = make.user("rep")
    db.session.commit()
    for _ in range(5):
        login_form(client, rep.email, "wrong-password")
    throttled = login_form(client, rep.email, PASSWORD)
    assert throttled.status_code == 429
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, make):
    rep = make.user("rep")
    db.session.commit()
    client.get("/login")
    response = client.post("/login", data={"email": rep.email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_open_redirect_after_login_is_ignored(client, make):
    rep = make.user("rep")
    db.session.commit()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=https://evil.example/",
        data={"email": rep.email, "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_session_id_changes_at_login(client, make):
    """Session fixation: a token planted before login does not authenticate afterwards."""
    rep = make.user("rep")
    db.session.commit()
    client.get("/login")
    before = client.get_cookie("session").value
    login_form(client, rep.email, PASSWORD)
    after = client.get_cookie("session").value
    assert before != after


def test_logout_revokes_the_session_and_the_remember_cookie(app, client, make):
    rep = make.user("rep")
    db.session.commit()
    login_form(client, rep.email, PASSWORD)
    stolen_session = client.get_cookie("session").value
    stolen_remember = client.get_cookie("remember_token").value
    assert stolen_remember

    token = client.get("/api/v1/session").get_json()["csrf_token"]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302

    login = db.session.scalars(select(LoginSession)).one()
    assert login.revoked_at is not None

    thief = app.test_client()
    thief.set_cookie("session", stolen_session)
    thief.set_cookie("remember_token", stolen_remember)
    assert thief.get("/").status_code == 302
    assert thief.get("/api/v1/session").status_code == 401


def test_without_remember_me_no_remember_cookie_is_set(client, make):
    rep = make.user("rep")
    db.session.commit()
    login_form(client, rep.email, PASSWORD, remember=False)
    assert client.get_cookie("remember_token") is None
    assert client.get("/").status_code == 200


def test_remember_cookie_alone_restores_a_live_session(app, client, make):
    rep = make.user("rep")
    db.session.commit()
    login_form(client, rep.email, PASSWORD)
    phone = app.test_client()
    phone.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert phone.get("/").status_code == 200


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_users_create_cli(runner, make):
    make.branch("TKY", "東京支店")
    db.session.commit()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "Sato@Example.jp",
            "--name",
            "佐藤",
            "--role",
            "rep",
            "--branch",
            "TKY",
            "--password",
            "secret-pass-1",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "sato@example.jp" in result.output
    bad = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "boss@example.jp",
            "--name",
            "社長",
            "--role",
            "owner",
            "--branch",
            "TKY",
            "--password",
            "secret-pass-1",
        ]
    )
    assert bad.exit_code == 1
    assert "branch" in bad.output


def _login_from(client, ip: str, email: str, password: str):
    token = csrf_from(client.get("/login", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True))
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": ip},
    )


def test_failures_from_one_address_do_not_lock_the_account_elsewhere(app, make):
    rep = make.user("rep")
    db.session.commit()
    attacker, owner = app.test_client(), app.test_client()
    for _ in range(5):
        _login_from(attacker, "203.0.113.9", rep.email, "wrong-password")
    assert _login_from(attacker, "203.0.113.9", rep.email, PASSWORD).status_code == 429
    assert _login_from(owner, "198.51.100.7", rep.email, PASSWORD).status_code == 302


def test_a_spread_out_attack_slows_new_addresses_but_not_the_usual_one(app, make):
    rep = make.user("rep")
    db.session.commit()
    usual = app.test_client()
    assert _login_from(usual, "198.51.100.7", rep.email, PASSWORD).status_code == 302
    attacker = app.test_client()
    for n in range(50):  # 10 × FIELDLOG_LOGIN_MAX_FAILURES, one try per address
        _login_from(attacker, f"203.0.113.{n}", rep.email, "wrong-password")
    assert _login_from(app.test_client(), "192.0.2.1", rep.email, PASSWORD).status_code == 429
    assert _login_from(app.test_client(), "198.51.100.7", rep.email, PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "At least 8"),
        ("password1", "too common"),
        ("12345678", "too common"),
        ("x" * 257, "At most 256"),
    ],
)
def test_password_policy(password, message):
    from fieldlog.services.accounts import password_problem

    assert message in str(password_problem(password))


def test_a_password_made_of_the_persons_own_name_is_refused():
    from fieldlog.services.accounts import password_problem

    assert password_problem("yamada.taro", hints=("yamada.taro@example.jp", "山田 太郎"))
    assert password_problem("blue-sky-river-7") is None


def _session_cookie_set(response) -> bool:
    return any(v.startswith("session=") for v in response.headers.getlist("Set-Cookie"))


def test_the_session_cookie_is_signed_at_login_then_once_a_day(app, client, make, monkeypatch):
    """Requests after the login do not re-sign the cookie (each would cost a signature); the
    first one of a new day does, which keeps the 180-day lifetime sliding."""
    from datetime import UTC, datetime, timedelta

    from fieldlog.web import security

    rep = make.user("rep")
    db.session.commit()
    assert _session_cookie_set(login_form(client, rep.email, PASSWORD))
    client.get("/api/v1/session")  # keeps a fresh CSRF secret in the session: saved once
    assert not any(_session_cookie_set(client.get("/api/v1/session")) for _ in range(3))

    tomorrow = datetime.now(UTC) + timedelta(days=1)

    class Tomorrow(datetime):
        @classmethod
        def now(cls, tz=None):
            return tomorrow

    monkeypatch.setattr(security, "datetime", Tomorrow)
    assert _session_cookie_set(client.get("/api/v1/session"))
    assert not _session_cookie_set(client.get("/api/v1/session"))


def test_a_verified_session_cookie_is_kept_per_process_without_loosening_it(app, monkeypatch):
    """The decoded cookie is kept for the next request with the same cookie: a changed cookie
    is verified afresh (a forged one refused), each request gets its own copy, and a kept one
    is refused once older than the session's lifetime."""
    import time
    from types import SimpleNamespace

    from flask import request

    from fieldlog.web import security

    interface = app.session_interface
    signed = interface.get_signing_serializer(app).dumps({"csrf_token": "s", "items": [1]})

    def opened(cookie: str):
        with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}):
            return interface.open_session(app, request)

    first = opened(signed)
    first["items"].append(2)  # a request changing its session in place
    assert opened(signed)["items"] == [1]
    forged = signed[:-2] + ("BB" if signed.endswith("AA") else "AA")
    assert dict(opened(forged)) == {}
    later = time.time() + app.permanent_session_lifetime.total_seconds() + 60
    monkeypatch.setattr(security, "time", SimpleNamespace(time=lambda: later))
    assert dict(opened(signed)) == {}
