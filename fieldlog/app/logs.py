"""Structured logs: one JSON object per line on stderr, one line per request."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, request
from werkzeug.wrappers import Response

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON with its extra fields (logger.info(..., extra={...}))."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in body and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False, default=str)


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _user_id() -> int | None:
    """The signed-in user's id without a query (after a commit the user object is expired)."""
    from flask_login import current_user
    from sqlalchemy import inspect

    user = current_user._get_current_object()
    state = inspect(user, raiseerr=False)
    if state is not None and state.identity:
        return state.identity[0]
    return getattr(user, "id", None)


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    if started is not None and request.endpoint != "static":
        user_id = _user_id()
        logging.getLogger("fieldlog.request").info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": user_id,
                "remote_addr": request.remote_addr,
            },
        )
    return response


def formatter(log_format: str) -> logging.Formatter:
    """JSON lines, or plain ones for FIELDLOG_LOG_FORMAT=text (the app's and gunicorn's alike)."""
    if log_format.strip().lower() == "text":
        return logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    return JsonFormatter()


def init_app(app: Flask) -> None:
    """Log JSON lines unless testing (FIELDLOG_LOG_FORMAT=text keeps plain lines)."""
    if app.testing:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(app.config.get("FIELDLOG_LOG_FORMAT", "json")))
    root = logging.getLogger("fieldlog")
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    root.propagate = False
    app.logger.handlers[:] = [handler]
    app.before_request(_start_timer)
    app.after_request(_log_request)
