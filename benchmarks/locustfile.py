"""Locust users for benchmarks/load.py: reps who log in, post visits and browse.

FastHttpUser (geventhttpclient) costs locust about a third of the CPU per request of HttpUser
(requests): on a 2-core machine shared with the server, the load generator must not be what
the server waits for.

Every acknowledged client_id (201/200) is appended to the file named by FIELDLOG_ACKS so the
benchmark can check afterwards that each is stored exactly once.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import gevent
from locust import FastHttpUser, between, events, task

_numbers = itertools.count(1)
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
JST = timezone(timedelta(hours=9))
ACKS: list[str] = []
PASSWORD = os.environ.get("FIELDLOG_LOAD_PASSWORD", "load-test-pass")
REPS = int(os.environ.get("FIELDLOG_LOAD_REPS", "50"))
CUSTOMERS_PER_REP = int(os.environ.get("FIELDLOG_LOAD_CUSTOMERS", "10"))


# Every response time, by request name, for load.py's percentiles per kind. The measured
# window opens once every user has logged in (FIELDLOG_LOAD_SECONDS long, then locust quits):
# reps stay logged in for months, so a Monday rush is posts and pages, not 50 scrypt hashes
# at once. The logins are recorded apart.
TIMINGS: list[tuple[str, float, bool]] = []
LOGINS: list[tuple[str, float, bool]] = []
STEADY_SECONDS = float(os.environ.get("FIELDLOG_LOAD_SECONDS", "0"))
_window: dict[str, float] = {}


def _ready(environment) -> None:
    """One more user has started; open the window when all have (and schedule its end)."""
    _window["ready"] = _window.get("ready", 0) + 1
    if _window["ready"] == REPS and "start" not in _window:
        _window["start"] = time.time()
        _mark("start")
        if STEADY_SECONDS:
            gevent.spawn_later(STEADY_SECONDS, _stop, environment)


def _mark(event: str) -> None:
    """Tell load.py the window opened or closed (it reads the server's CPU time then)."""
    path = os.environ.get("FIELDLOG_WINDOW")
    if path:
        with open(path, "a") as handle:
            handle.write(f"{event} {time.time()}\n")


def _stop(environment) -> None:
    _window["end"] = time.time()
    _mark("end")
    environment.runner.quit()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception=None, **_kwargs):
    entry = (name, response_time, exception is None)
    if "start" in _window and "end" not in _window:
        TIMINGS.append(entry)
    elif "start" not in _window:
        LOGINS.append(entry)


@events.test_stop.add_listener
def _write_acks(environment, **_kwargs):
    path = os.environ.get("FIELDLOG_ACKS")
    if path:
        with open(path, "a") as handle:
            handle.writelines(f"{client_id}\n" for client_id in ACKS)
    path = os.environ.get("FIELDLOG_TIMINGS")
    if path:
        end = _window.get("end", time.time())
        seconds = end - _window["start"] if "start" in _window else 0.0
        with open(path, "w") as handle:
            json.dump({"seconds": seconds, "timings": TIMINGS, "logins": LOGINS}, handle)


class Rep(FastHttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.number = (next(_numbers) - 1) % REPS + 1
        page = self.client.get("/login", name="/login").text
        token = _CSRF.search(page).group(1)
        self.client.post(
            "/login",
            data={
                "email": f"rep{self.number:02d}@load.test",
                "password": PASSWORD,
                "remember": "y",
                "csrf_token": token,
            },
            name="/login",
        )
        self.csrf = self.client.get("/api/v1/session", name="/api/v1/session").json()["csrf_token"]
        _ready(self.environment)

    @task(3)
    def post_visit(self):
        client_id = str(uuid.uuid4())
        customer = f"L{self.number:02d}-{random.randrange(CUSTOMERS_PER_REP):03d}"
        visited_at = datetime.now(UTC).astimezone(JST) - timedelta(minutes=random.randrange(600))
        payload = {
            "client_id": client_id,
            "customer_code": customer,
            "visited_at": visited_at.isoformat(),
            "purpose": random.choice(["hearing", "proposal", "routine", "follow_up"]),
            "hearing_done": random.random() < 0.6,
            "note": "負荷試験の訪問メモ",
        }
        if random.random() < 0.3:
            payload["proposal"] = {"amount": random.randrange(1, 50) * 10000}
        if random.random() < 0.5:
            due = (visited_at + timedelta(days=7)).date().isoformat()
            payload["next_action"] = {"action": "電話フォロー", "due_on": due}
        with self.client.post(
            "/api/v1/visits",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json", "X-CSRFToken": self.csrf},
            name="POST /api/v1/visits",
            catch_response=True,
        ) as response:
            if response.status_code in (200, 201):
                ACKS.append(client_id)
                response.success()
            else:
                response.failure(f"{response.status_code} {response.text[:200]}")

    @task(1)
    def browse_today(self):
        self.client.get("/", name="GET /")

    @task(1)
    def session(self):
        self.client.get("/api/v1/session", name="/api/v1/session")


class Baseline(FastHttpUser):
    """The same pacing against a trivial Flask JSON endpoint."""

    wait_time = between(0.2, 1.0)

    def on_start(self):
        _ready(self.environment)

    @task
    def ping(self):
        self.client.get("/ping", name="GET /ping")
