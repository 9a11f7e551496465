"""Concurrent duplicate posts of one client_id against a real threaded server store one visit."""

from __future__ import annotations

import http.cookiejar
import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from fieldlog.app.extensions import db
from fieldlog.models import Visit

from .conftest import PASSWORD, csrf_from, visit_payload


@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


def _logged_in_opener(base: str, email: str):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/login").read().decode()
    data = urllib.parse.urlencode(
        {"email": email, "password": PASSWORD, "csrf_token": csrf_from(html)}
    ).encode()
    opener.open(f"{base}/login", data=data)
    token = json.loads(opener.open(f"{base}/api/v1/session").read())["csrf_token"]
    return opener, token


def test_concurrent_duplicates_store_exactly_one_visit(app, server, make):
    rep = make.user("rep")
    customer = make.customer(rep=rep, code="C-1")
    db.session.commit()
    opener, token = _logged_in_opener(server, rep.email)
    body = json.dumps(visit_payload(customer)).encode()

    def post(_):
        request = urllib.request.Request(
            f"{server}/api/v1/visits",
            data=body,
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        )
        try:
            with opener.open(request) as response:
                return response.status, json.loads(response.read())["id"]
        except urllib.error.HTTPError as error:
            return error.code, None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, range(16)))

    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    ids = {visit_id for status, visit_id in results if status in (200, 201)}
    assert len(ids) == 1
    db.session.rollback()
    assert db.session.scalar(select(func.count(Visit.id))) == 1
