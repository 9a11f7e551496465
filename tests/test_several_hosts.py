"""Two app hosts on one database behind a load balancer need no sticky sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from fieldlog import create_app
from fieldlog.app.extensions import db
from tests.conftest import Auth


@pytest.fixture
def other_host(app) -> Iterator[Callable[..., Flask]]:
    """A second app process on the same database, as another machine would run it.

    Each host has its own engine; its pooled connections are closed when the test ends, not
    left to the garbage collector (psycopg warns of a connection deleted while open, and the
    warning lands on whichever later test happens to collect it).
    """
    keys = ("TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI", "FIELDLOG_TIMEZONE",
            "FIELDLOG_NOW", "FIELDLOG_SCHEDULER", "FIELDLOG_IMPORT_DIR")  # fmt: skip
    hosts: list[Flask] = []

    def start(**overrides) -> Flask:
        hosts.append(create_app({**{k: app.config[k] for k in keys}, **overrides}))
        return hosts[-1]

    yield start
    for host in hosts:
        with host.app_context():
            db.engine.dispose()


def carry_cookies(source, target) -> None:
    """What one browser does when the balancer sends its next request to another host."""
    for name in ("session", "remember_token"):
        cookie = source.get_cookie(name)
        if cookie is not None:
            target.set_cookie(name, cookie.value)


def test_a_login_on_one_host_works_on_another_and_logout_ends_it_there(client, make, other_host):
    rep = make.user("rep")
    db.session.commit()
    assert Auth(client).login(rep).status_code == 302
    host_b = other_host().test_client()
    carry_cookies(client, host_b)
    assert host_b.get("/api/v1/session").get_json()["user"]["email"] == rep.email

    token = host_b.get("/api/v1/session").get_json()["csrf_token"]
    carry_cookies(host_b, client)  # one browser: host B's cookie comes back to host A
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert host_b.get("/api/v1/session").status_code == 401  # the row is revoked for all hosts


def test_hosts_must_share_the_secret_key(client, make, other_host):
    rep = make.user("rep")
    db.session.commit()
    Auth(client).login(rep)
    stranger = other_host(SECRET_KEY="another-key").test_client()
    carry_cookies(client, stranger)
    assert stranger.get("/api/v1/session").status_code == 401
