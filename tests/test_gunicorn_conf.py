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
