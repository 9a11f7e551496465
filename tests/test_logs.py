"""Structured request logs."""

from __future__ import annotations

import json
import logging

import pytest

from fieldlog.app.logs import JsonFormatter


def test_json_formatter_keeps_extra_fields():
    record = logging.makeLogRecord(
        {"name": "fieldlog.request", "levelname": "INFO", "msg": "GET / 200", "status": 200}
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "GET / 200"
    assert line["status"] == 200
    assert line["level"] == "info" and line["logger"] == "fieldlog.request"


def test_requests_are_logged_as_json(database_url, tmp_path, capsys):
    from fieldlog import create_app

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x", "FIELDLOG_SCHEDULER": False}
    )
    try:
        assert app.test_client().get("/healthz").status_code == 200
    finally:
        logging.getLogger("fieldlog").handlers.clear()
        logging.getLogger("fieldlog").propagate = True
        with app.app_context():
            from fieldlog.app.extensions import db

            db.engine.dispose()
    lines = [
        json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")
    ]
    request = next(line for line in lines if line["logger"] == "fieldlog.request")
    assert request["path"] == "/healthz" and request["status"] == 200
    assert request["duration_ms"] >= 0


@pytest.mark.parametrize(("value", "json_lines"), [("", True), ("json", True), ("text", False)])
def test_gunicorn_follows_the_log_format_of_the_app(monkeypatch, value, json_lines):
    """FIELDLOG_LOG_FORMAT=text must not leave gunicorn's lines as JSON among plain ones."""
    import logging

    from gunicorn.config import Config

    from fieldlog.app import gunicorn_conf

    monkeypatch.setenv("FIELDLOG_LOG_FORMAT", value)
    logger = gunicorn_conf.JsonLogger(Config())
    record = logging.LogRecord("gunicorn.error", logging.INFO, __file__, 1, "Booting", None, None)
    handlers = logger.error_log.handlers
    assert handlers
    for handler in handlers:
        line = handler.formatter.format(record)
        assert line.startswith("{") is json_lines and "Booting" in line
