"""gunicorn settings: the workers' periodic restarts never come together."""

from __future__ import annotations

import random
from itertools import pairwise
from types import SimpleNamespace

import pytest

from fieldlog.app import gunicorn_conf
from fieldlog.app.gunicorn_conf import restart_after


def restarts(workers: int, limit: int, requests: int, rng: random.Random | None) -> list[int]:
    """When (in requests served by all) workers restart, each request going to one worker.

    Spawned like gunicorn's arbiter does: ages 1..n at start, the next age for each
    replacement. Requests go round-robin, or to a random worker when ``rng`` is given.
    """
    ages = list(range(1, workers + 1))
    served = [0] * workers
    limits = [restart_after(age, workers, limit) for age in ages]
    next_age, out = workers + 1, []
    for n in range(requests):
        k = rng.randrange(workers) if rng else n % workers
        served[k] += 1
        if served[k] >= limits[k]:
            out.append(n)
            served[k], limits[k] = 0, restart_after(next_age, workers, limit)
            next_age += 1
    return out


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_two_workers_never_restart_together(seed):
    rng = random.Random(seed) if seed is not None else None
    times = restarts(2, 2000, 60_000, rng)
    assert len(times) >= 20
    gaps = [b - a for a, b in pairwise(times)]
    # Half a period (2,000 requests of the pair) apart when the load is shared evenly; a
    # random share drifts, but over 30 restarts stays hundreds of requests from the few a
    # restart takes. (gunicorn's own 0-10 % random jitter: within 100 requests 43 % of the time.)
    assert min(gaps) >= (1999 if rng is None else 500)


def test_the_first_workers_are_spread_over_one_period_then_all_get_the_same_limit():
    assert [restart_after(age, 2, 2000) for age in (1, 2, 3, 4, 5)] == [2000, 3000] + [2000] * 3
    assert [restart_after(age, 4, 1000) for age in (1, 2, 3, 4)] == [1000, 1250, 1500, 1750]
    assert restart_after(1, 2, 0) == 0  # 0: never restart


def test_post_fork_sets_the_worker_limit(monkeypatch):
    monkeypatch.setattr(gunicorn_conf, "max_requests", 2000)
    worker = SimpleNamespace(age=2, max_requests=2100)
    gunicorn_conf.post_fork(SimpleNamespace(num_workers=2), worker)
    assert worker.max_requests == 3000


class _Worker(SimpleNamespace):
    """What the hooks see of a gunicorn worker: its age, requests served and limit."""

    def serve(self) -> bool:
        """One request as gunicorn's worker loop runs it; True when the worker then stops."""
        gunicorn_conf.pre_request(self, None)
        self.nr += 1
        return self.nr >= self.max_requests


def _spawn(age: int) -> _Worker:
    worker = _Worker(age=age, nr=0, max_requests=0)
    gunicorn_conf.post_fork(SimpleNamespace(num_workers=2), worker)
    return worker


@pytest.fixture
def hooks(monkeypatch):
    monkeypatch.setattr(gunicorn_conf, "max_requests", 100)
    monkeypatch.setattr(gunicorn_conf._replacing, "value", 0)
    monkeypatch.setattr(gunicorn_conf._replacing_since, "value", 0.0)


def test_a_worker_at_its_limit_waits_while_the_other_is_being_replaced(hooks):
    """Measured: a replacement took 7 s to load the app; the other worker, serving alone
    meanwhile, reached its limit and both were down. Now it waits for the replacement."""
    a, b = _spawn(1), _spawn(2)  # limits 100 and 150
    gunicorn_conf.post_worker_init(a)
    gunicorn_conf.post_worker_init(b)
    for _ in range(99):
        assert not a.serve()
    b.nr = 99
    assert a.serve()  # a reaches its limit and stops
    replacement = _spawn(3)  # loading the app: b answers everything meanwhile
    for _ in range(200):
        assert not b.serve()  # past its limit of 150, still answering
    gunicorn_conf.post_worker_init(replacement)  # ready
    assert b.serve()  # now b goes
    assert gunicorn_conf._replacing.value == 1  # until its own replacement is ready
    gunicorn_conf.post_worker_init(_spawn(4))
    assert gunicorn_conf._replacing.value == 0


def test_a_replacement_that_never_reports_holds_the_others_only_so_long(hooks, monkeypatch):
    a, b = _spawn(1), _spawn(2)
    a.nr = 99
    assert a.serve()  # its replacement is killed while loading: never ready
    b.nr = 149
    assert not b.serve()
    clock = gunicorn_conf.time.monotonic() + gunicorn_conf.REPLACEMENT_WAIT + 1
    monkeypatch.setattr(gunicorn_conf.time, "monotonic", lambda: clock)
    assert b.serve()


def test_the_default_worker_count_follows_the_database():
    """SQLite: a worker a core (the default database too); PostgreSQL: two a core; 2 to 8."""
    from fieldlog.app.gunicorn_conf import default_workers

    assert default_workers("", 2) == 2
    assert default_workers("sqlite:////srv/fieldlog.db", 4) == 4
    assert default_workers("postgresql://fieldlog@db/fieldlog", 2) == 4
    assert default_workers("postgresql://fieldlog@db/fieldlog", 16) == 8
    assert default_workers("sqlite:///x.db", 1) == 2
