"""Locust users for benchmarks/load.py: reps who log in, post visits and browse.

Every acknowledged client_id (201/200) is appended to the file named by FIELDLOG_ACKS so the
benchmark can check afterwards that each is stored exactly once.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

from locust import HttpUser, between, events, task

_numbers = itertools.count(1)
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
JST = timezone(timedelta(hours=9))
ACKS: list[str] = []
PASSWORD = os.environ.get("FIELDLOG_LOAD_PASSWORD", "load-test-pass")
REPS = int(os.environ.get("FIELDLOG_LOAD_REPS", "50"))
CUSTOMERS_PER_REP = int(os.environ.get("FIELDLOG_LOAD_CUSTOMERS", "10"))


@events.test_stop.add_listener
def _write_acks(environment, **_kwargs):
    path = os.environ.get("FIELDLOG_ACKS")
    if path:
        with open(path, "a") as handle:
            handle.writelines(f"{client_id}\n" for client_id in ACKS)


class Rep(HttpUser):
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


class Baseline(HttpUser):
    """The same pacing against a trivial Flask JSON endpoint."""

    wait_time = between(0.2, 1.0)

    @task
    def ping(self):
        self.client.get("/ping", name="GET /ping")
