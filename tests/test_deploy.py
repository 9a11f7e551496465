"""Production run: gunicorn with fieldlog/app/gunicorn_conf.py behind a reverse proxy (ProxyFix)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from fieldlog import create_app

from .conftest import PG_URL, _config

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PORTS = range(5800, 5850)  # this suite's share of loopback ports


def _port() -> int:
    for port in PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail("no free port in 5800-5849")


def _get(url: str, headers: dict[str, str]):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, dict(response.headers), response.read()


def test_gunicorn_with_the_config_file_serves_healthz_and_logs_json(database_url, tmp_path):
    if PG_URL:
        url = database_url
    else:
        url = f"sqlite:///{tmp_path / 'served.db'}"
        shutil.copyfile(database_url.removeprefix("sqlite:///"), tmp_path / "served.db")
    port = _port()
    env = {
        **os.environ,
        "FIELDLOG_DATABASE_URL": url,
        "FIELDLOG_SECRET_KEY": "deploy",
        "FIELDLOG_SCHEDULER": "off",
        "FIELDLOG_BIND": f"127.0.0.1:{port}",
        "FIELDLOG_WORKERS": "2",
        "FIELDLOG_THREADS": "2",
        "FIELDLOG_PROXY_FIX": "1",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "fieldlog/app/gunicorn_conf.py"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/healthz?ready", {})
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        status, headers, body = _get(
            f"http://127.0.0.1:{port}/healthz?via=proxy",
            {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
        )
        assert status == 200
        assert json.loads(body) == {"status": "ok", "database": "ok"}
        # The proxy said https: the app knows it (ProxyFix), so the answer carries HSTS.
        assert "max-age" in headers["Strict-Transport-Security"]
        status, headers, _ = _get(f"http://127.0.0.1:{port}/healthz?via=direct", {})
        assert status == 200 and "Strict-Transport-Security" not in headers
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        returncode = server.wait(60)
    assert returncode == 0, log.read_text()[-3000:]  # a graceful stop

    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    access = {
        line["query"]: line
        for line in lines
        if line["logger"] == "gunicorn.access" and line["query"] != "ready"
    }
    assert set(access) == {"via=proxy", "via=direct"}
    for line in access.values():
        assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
        assert line["duration_ms"] >= 0 and line["bytes"] > 0
    assert access["via=proxy"]["remote_addr"] == "203.0.113.7"  # the client, not the proxy
    assert access["via=direct"]["remote_addr"] == "127.0.0.1"
    requests = [line for line in lines if line["logger"] == "fieldlog.request"]
    assert {r["remote_addr"] for r in requests} == {"203.0.113.7", "127.0.0.1"}
    assert any(line["logger"] == "gunicorn.error" for line in lines)  # gunicorn's own, as JSON


def _proxied_app(database_url, tmp_path, **config):
    url = database_url
    if not PG_URL:
        shutil.copyfile(database_url.removeprefix("sqlite:///"), tmp_path / "proxied.db")
        url = f"sqlite:///{tmp_path / 'proxied.db'}"
    app = create_app({**_config(url), **config})

    @app.get("/_where")
    def where():
        from flask import request

        return {"remote_addr": request.remote_addr, "scheme": request.scheme, "host": request.host}

    return app


PROXY_HEADERS = {
    "X-Forwarded-For": "198.51.100.20",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "fieldlog.example.jp",
}


def test_proxy_fix_reads_the_forwarded_headers_of_one_proxy(database_url, tmp_path):
    app = _proxied_app(database_url, tmp_path, FIELDLOG_PROXY_FIX=1, FIELDLOG_HTTPS=True)
    client = app.test_client()
    response = client.get("/_where", headers=PROXY_HEADERS)
    assert response.get_json() == {
        "remote_addr": "198.51.100.20",
        "scheme": "https",
        "host": "fieldlog.example.jp",
    }
    assert "max-age" in response.headers["Strict-Transport-Security"]
    with app.app_context():
        from fieldlog.app.extensions import db

        db.engine.dispose()


def test_without_proxy_fix_forwarded_headers_are_ignored(database_url, tmp_path):
    app = _proxied_app(database_url, tmp_path)
    response = app.test_client().get("/_where", headers=PROXY_HEADERS)
    where = response.get_json()
    assert where == {"remote_addr": "127.0.0.1", "scheme": "http", "host": "localhost"}
    assert "Strict-Transport-Security" not in response.headers
    with app.app_context():
        from fieldlog.app.extensions import db

        db.engine.dispose()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", 0), ("0", 0), ("1", 1), ("2", 2), ("yes", 1), ("true", 1), ("off", 0), ("No", 0)],
)
def test_proxy_fix_setting(value, expected, tmp_path):
    from fieldlog.app.config import from_environment

    config = from_environment(str(tmp_path), {"FIELDLOG_PROXY_FIX": value})
    assert config["FIELDLOG_PROXY_FIX"] == expected
