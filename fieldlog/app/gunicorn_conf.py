"""gunicorn settings for FieldLog, from the environment.

    gunicorn -c fieldlog/app/gunicorn_conf.py          # serves wsgi:app

Every setting comes from a FIELDLOG_* variable (README, "Deployment with gunicorn"): FIELDLOG_BIND,
FIELDLOG_WORKERS, FIELDLOG_THREADS, FIELDLOG_TIMEOUT, FIELDLOG_GRACEFUL_TIMEOUT,
FIELDLOG_FORWARDED_ALLOW_IPS, FIELDLOG_MAX_REQUESTS, FIELDLOG_CONTROL_SOCKET, FIELDLOG_ACCESS_LOG.

Both gunicorn's own log and its access log are on stderr in the app's format: JSON lines
(``fieldlog.app.logs.JsonFormatter``), or plain lines with FIELDLOG_LOG_FORMAT=text.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import sys
import time
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from fieldlog.app.logs import formatter


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _on(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value not in {"0", "off", "false", "no"}


class JsonLogger(Logger):
    """gunicorn's logger on stderr, one access line per request: JSON lines like the app's,
    or plain lines with FIELDLOG_LOG_FORMAT=text."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        lines = formatter(os.environ.get("FIELDLOG_LOG_FORMAT", "json"))
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
                    handler.setStream(sys.stderr)
                handler.setFormatter(lines)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "query": environ.get("QUERY_STRING") or None,
                "status": int(status),
                "bytes": getattr(resp, "sent", None),
                "duration_ms": round(request_time.total_seconds() * 1000, 1),
                # The client's address once ProxyFix (FIELDLOG_PROXY_FIX) has read X-Forwarded-For.
                "remote_addr": environ.get("REMOTE_ADDR"),
                "user_agent": environ.get("HTTP_USER_AGENT"),
                "referer": environ.get("HTTP_REFERER"),
                "pid": os.getpid(),
            },
        )


wsgi_app = "wsgi:app"
bind = [address.strip() for address in os.environ.get("FIELDLOG_BIND", "127.0.0.1:8000").split(",")]


def default_workers(database_url: str, cores: int) -> int:
    """One sync worker a core on SQLite (one writer at a time: more processes only queue for
    the write lock and take CPU from it), two a core on PostgreSQL (a worker waiting for the
    database leaves its core to another); at least 2, at most 8. Measured in
    benchmarks/write_load.py (README, "Deployment with gunicorn")."""
    per_core = 1 if database_url.strip().lower().startswith("sqlite") or not database_url else 2
    return max(2, min(per_core * cores, 8))


workers = _int(
    "FIELDLOG_WORKERS",
    default_workers(os.environ.get("FIELDLOG_DATABASE_URL", ""), os.cpu_count() or 1),
)
threads = _int("FIELDLOG_THREADS", 1)
timeout = _int("FIELDLOG_TIMEOUT", 60)
graceful_timeout = _int("FIELDLOG_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Only these proxies may say the request came over HTTPS (X-Forwarded-Proto); the app's
# ProxyFix (FIELDLOG_PROXY_FIX) reads the same headers for the client address and host.
forwarded_allow_ips = os.environ.get("FIELDLOG_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# A worker restarted now and then returns any memory a large import or report left behind.
# Their restarts are spread by post_fork below, not by gunicorn's random jitter: with 2
# workers a random 0-10 % each put their first restarts within 100 requests of each other
# 43 % of the time, leaving no worker to answer while both started up.
max_requests = _int("FIELDLOG_MAX_REQUESTS", 2000)
max_requests_jitter = 0
logger_class = JsonLogger
errorlog = "-"
accesslog = "-" if _on("FIELDLOG_ACCESS_LOG", True) else None
loglevel = os.environ.get("FIELDLOG_LOG_LEVEL", "info")
# gunicorn ≥ 25 opens a control socket at ~/.gunicorn/gunicorn.ctl, shared by every instance of
# the same user; only open one when given a path of its own.
control_socket = os.environ.get("FIELDLOG_CONTROL_SOCKET", "")
control_socket_disable = not control_socket
# Not preloaded: wsgi.py starts the report scheduler thread in each worker, after the fork.
preload_app = False


def restart_after(age: int, workers: int, max_requests: int) -> int:
    """How many requests the worker spawned ``age``-th serves before it is replaced.

    The first generation's limits are spread evenly over one period (worker k of n gets
    max_requests × (1 + k/n)); every later worker gets max_requests exactly. A replacement
    starts when its predecessor stops, so the workers keep the offsets they started with:
    with two workers sharing the load evenly, one restarts half a period after the other,
    never together.
    """
    if max_requests <= 0:
        return 0
    phase = (age - 1) % workers if age <= workers else 0
    return max_requests + phase * max_requests // workers


# Workers that stopped for their periodic restart and whose replacement has not loaded the app
# yet, shared by the master and every worker it forks (shared memory made before the fork).
# Measured with 2 workers on a loaded machine: a replacement took 7 s to load the app, and the
# other worker, serving everything meanwhile, reached its own limit: none was left to answer.
_replacing = multiprocessing.Value("i", 0)
_replacing_since = multiprocessing.Value("d", 0.0)  # time.monotonic() of the oldest such stop
# A replacement that never reported (killed while loading) holds the others no longer than this.
REPLACEMENT_WAIT = 120.0


def post_fork(server: Any, worker: Any) -> None:
    """Give the new worker its place in the restart schedule (``restart_after``)."""
    if max_requests > 0:
        worker.max_requests = restart_after(worker.age, server.num_workers, max_requests)
    worker.fieldlog_workers = server.num_workers
    worker.fieldlog_leaving = False


def post_worker_init(worker: Any) -> None:
    """A worker is ready to answer: a restart it replaces is over.

    What loading the app made (modules, the app, mappers, compiled statements: some hundred
    thousand objects that live as long as the worker) leaves the garbage collector's view: its
    full collections, which walked all of them, paused a request for ~130 ms now and then
    under write load; now they walk only what requests made.
    """
    gc.collect()
    gc.freeze()
    if worker.age > worker.fieldlog_workers:
        with _replacing.get_lock():
            _replacing.value = max(_replacing.value - 1, 0)


def pre_request(worker: Any, req: Any) -> None:
    """The request that reaches a worker's limit waits, while another worker is being replaced.

    gunicorn stops a worker after the request that brings it to ``max_requests``: that limit
    moves one request on while a replacement is loading the app, so the workers never restart
    together, however unevenly the requests spread meanwhile (at most REPLACEMENT_WAIT).
    """
    if max_requests <= 0 or worker.nr + 1 < worker.max_requests or worker.fieldlog_leaving:
        return
    now = time.monotonic()
    with _replacing.get_lock():
        if _replacing.value > 0 and now - _replacing_since.value < REPLACEMENT_WAIT:
            worker.max_requests = worker.nr + 2
            return
        if _replacing.value <= 0:
            _replacing_since.value = now
        worker.fieldlog_leaving = True
        _replacing.value = max(_replacing.value, 0) + 1
