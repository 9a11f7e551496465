"""Faults: the server killed with SIGKILL in the middle of a burst of posts loses nothing
that it acknowledged, and replaying everything afterwards stores each visit exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from fieldlog import create_app
from fieldlog.app.extensions import db as fdb

from .conftest import PASSWORD, PG_URL, csrf_from, visit_payload

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "FIELDLOG_DATABASE_URL": url,
        "FIELDLOG_SECRET_KEY": "faults",
        "FIELDLOG_SCHEDULER": "off",
    }
    with log.open("a") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "fieldlog:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return process
        except OSError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    pytest.fail(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


def _login(base: str, email: str):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    html = opener.open(f"{base}/login").read().decode()
    data = urlencode({"email": email, "password": PASSWORD, "csrf_token": csrf_from(html)})
    opener.open(f"{base}/login", data=data.encode()).close()
    return opener


def _post(opener, base: str, payload: dict) -> int:
    try:
        token = json.loads(opener.open(f"{base}/api/v1/session", timeout=5).read())["csrf_token"]
        request = urllib.request.Request(
            f"{base}/api/v1/visits",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": token},
        )
        with opener.open(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except Exception:  # a dying server: reset, incomplete read, bad JSON — not acknowledged
        return 0


@pytest.fixture
def database(database_url, tmp_path):
    """A migrated-schema database the subprocess server and this test share."""
    if PG_URL:
        return database_url
    path = tmp_path / "faults.db"
    import shutil

    shutil.copyfile(database_url.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


def test_kill_9_mid_burst_loses_no_acknowledged_visit(database, make, tmp_path):
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "faults", "FIELDLOG_SCHEDULER": False}
    )
    with app.app_context():
        rep = make.user("rep")
        customers = [make.customer(rep=rep, code=f"K-{i}") for i in range(5)]
        fdb.session.commit()
        email, codes = rep.email, [c.code for c in customers]
        fdb.session.remove()
        fdb.engine.dispose()

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    server = _start(database, port, log)
    opener = _login(base, email)
    payloads = [visit_payload(codes[i % 5], client_id=str(uuid.uuid4())) for i in range(120)]
    acked: list[str] = []
    lock = threading.Lock()

    def burst(chunk):
        for payload in chunk:
            if _post(opener, base, payload) in (200, 201):
                with lock:
                    acked.append(payload["client_id"])

    threads = [threading.Thread(target=burst, args=(payloads[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    while len(acked) < 15:
        time.sleep(0.01)
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(10)
    for thread in threads:
        thread.join(30)
    assert 15 <= len(acked) < len(payloads), "the kill did not land mid-burst"

    engine = sa.create_engine(database.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        stored = set(conn.exec_driver_sql("SELECT client_id FROM visit").scalars())
    assert set(acked) <= stored, "an acknowledged visit was lost"

    # Restart and replay everything, as the phones' outboxes would.
    server = _start(database, port, log)
    try:
        opener = _login(base, email)
        statuses = [_post(opener, base, payload) for payload in payloads]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)
    assert set(statuses) <= {200, 201}, statuses
    with engine.connect() as conn:
        counts = dict(
            conn.exec_driver_sql("SELECT client_id, COUNT(*) FROM visit GROUP BY client_id").all()
        )
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    engine.dispose()
    assert counts == {payload["client_id"]: 1 for payload in payloads}
