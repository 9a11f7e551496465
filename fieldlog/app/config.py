"""Settings from the environment, read once when the app is created."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError


class ConfigError(ValueError):
    """A setting the app cannot start with; the message names it: 'SETTING: what is wrong'."""


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _secret_key(instance_path: str) -> str:
    """A key kept in instance/ so sessions survive restarts when none is configured."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


# Values seen in examples and tutorials: a key anyone can read forges anyone's session.
_PLACEHOLDERS = {"dev", "secret", "changeme", "change-me", "change_me", "fieldlog", "password"}
MIN_SECRET_LENGTH = 32


def weak_secret(key: Any) -> str | None:
    """Why a SECRET_KEY is weak (short, a placeholder, or few distinct characters), or None."""
    text = key.decode(errors="replace") if isinstance(key, bytes) else str(key or "")
    if text.strip().lower() in _PLACEHOLDERS or "change" in text.lower():
        return "it is a placeholder"
    if len(text) < MIN_SECRET_LENGTH:
        return f"it is shorter than {MIN_SECRET_LENGTH} characters"
    if len(set(text)) < 10:
        return "it repeats a few characters"
    return None


def warn_if_weak_secret(app: Any) -> None:
    """Say at start, loudly, that FIELDLOG_SECRET_KEY should be replaced (tests excepted)."""
    problem = weak_secret(app.config.get("SECRET_KEY"))
    if problem and not app.testing:
        app.logger.warning(
            "FIELDLOG_SECRET_KEY is weak (%s): anyone who guesses it can forge sessions. "
            "Set it to a long random value, e.g. python -c 'import secrets; "
            "print(secrets.token_hex(32))'.",
            problem,
        )


def from_environment(
    instance_path: str, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Build the Flask config mapping from FIELDLOG_* variables."""
    env = os.environ if environ is None else environ
    database_url = env.get("FIELDLOG_DATABASE_URL") or (
        "sqlite:///" + str(Path(instance_path) / "fieldlog.db")
    )
    https = env.get("FIELDLOG_HTTPS", "").lower() in {"1", "true", "yes"}
    proxies = _proxies(env.get("FIELDLOG_PROXY_FIX", ""))
    log_format = (env.get("FIELDLOG_LOG_FORMAT") or "json").strip().lower()
    if log_format not in {"json", "text"}:
        raise ConfigError(f"FIELDLOG_LOG_FORMAT: {log_format!r} is neither json nor text")
    return {
        "SECRET_KEY": env.get("FIELDLOG_SECRET_KEY") or None,
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        "FIELDLOG_TIMEZONE": env.get("FIELDLOG_TIMEZONE") or "Asia/Tokyo",
        "FIELDLOG_SMTP_URL": env.get("FIELDLOG_SMTP_URL", ""),
        "FIELDLOG_MAIL_FROM": env.get("FIELDLOG_MAIL_FROM") or "fieldlog@localhost",
        "FIELDLOG_REDIS_URL": env.get("FIELDLOG_REDIS_URL", ""),
        "FIELDLOG_HTTPS": https,
        # How many reverse proxies set X-Forwarded-For/-Proto/-Host in front of the app (0: none).
        "FIELDLOG_PROXY_FIX": proxies,
        "FIELDLOG_SCHEDULER": env.get("FIELDLOG_SCHEDULER", "").strip().lower()
        not in {"0", "off", "false", "no"},
        "FIELDLOG_LOG_FORMAT": log_format,
        # Uploads and their progress; shared by every worker and host (empty: instance/imports).
        "FIELDLOG_IMPORT_DIR": env.get("FIELDLOG_IMPORT_DIR", ""),
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_SECURE": https,
    }


def _proxies(value: str) -> int:
    """FIELDLOG_PROXY_FIX: how many proxies (a whole number), or a yes/no word for one/none."""
    word = value.strip().lower()
    if word.isascii() and word.isdigit() and len(word) <= 3:  # "²" is a digit to isdigit()
        return int(word)
    if word in {"", "false", "no", "off"}:
        return 0
    if word in {"true", "yes", "on"}:
        return 1
    raise ConfigError(
        f"FIELDLOG_PROXY_FIX: {value.strip()!r} is not a number of proxies (0, 1, 2 …) or yes/no"
    )


DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_ENGINE_OPTIONS": {},  # pool_pre_ping by the database's kind: finalize
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # Reps stay logged in on their phones for months; logout revokes the server-side session.
    "REMEMBER_COOKIE_DURATION": timedelta(days=180),
    "PERMANENT_SESSION_LIFETIME": timedelta(days=180),
    # Tokens live as long as the session: an offline queue may send days later.
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_SSL_STRICT": False,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    # Upload memory: Flask's MAX_FORM_MEMORY_SIZE (500 KB of non-file fields) and MAX_FORM_PARTS
    # (1,000) stand; uploaded files spool to a temporary file past 500 KB (werkzeug).
    "BABEL_DEFAULT_LOCALE": "ja",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    "FIELDLOG_LOCALES": ("ja", "en"),
    "FIELDLOG_LOGIN_MAX_FAILURES": 5,
    "FIELDLOG_LOGIN_WINDOW": timedelta(minutes=15),
    # Today and the plan kept per process while the data's stamp holds (web/page_cache.py);
    # a page is kept only once the newest change behind it is this many seconds old.
    "FIELDLOG_PAGE_CACHE": True,
    "FIELDLOG_PAGE_CACHE_SETTLE": 2.0,
}


def finalize(config: dict[str, Any], instance_path: str) -> None:
    """Fill values that depend on others once every source has been applied."""
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _secret_key(instance_path)
    config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(config["SQLALCHEMY_DATABASE_URI"])
    try:  # fail at start, not with a 500 on every page that shows a date
        ZoneInfo(config["FIELDLOG_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"FIELDLOG_TIMEZONE: unknown time zone {config['FIELDLOG_TIMEZONE']!r} "
            "(an IANA name, for example Asia/Tokyo)"
        ) from None
    check_database_url(config["SQLALCHEMY_DATABASE_URI"])
    # A pooled connection is tried with a round trip before use where the server can drop it
    # (PostgreSQL restarted, an idle timeout closed it); a SQLite file cannot, and its ping was
    # ~1 % of a visit post's CPU.
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options.setdefault(
        "pool_pre_ping", make_url(config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "sqlite"
    )
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    config["BABEL_DEFAULT_TIMEZONE"] = config["FIELDLOG_TIMEZONE"]


def check_database_url(url: str) -> None:
    """Refuse at start a database URL that cannot be parsed or names no installed driver."""
    try:
        make_url(url).get_dialect()
    except NoSuchModuleError:  # an ArgumentError: first
        kind = url.split(":", 1)[0]
        raise ConfigError(
            f"FIELDLOG_DATABASE_URL: unknown database kind {kind!r} (use postgresql:// or sqlite:///)"
        ) from None
    except (ArgumentError, ValueError):
        raise ConfigError(
            "FIELDLOG_DATABASE_URL: not a database URL "
            "(for example postgresql://user:password@host:5432/fieldlog or sqlite:///path.db)"
        ) from None
