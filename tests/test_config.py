"""Configuration from the environment: the names and defaults of docs/contract.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from fieldlog import create_app
from fieldlog.app.config import from_environment
from fieldlog.app.extensions import db


def test_defaults_without_any_variable(tmp_path):
    config = from_environment(str(tmp_path), {})
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'fieldlog.db'}"
    assert config["FIELDLOG_TIMEZONE"] == "Asia/Tokyo"
    assert config["SECRET_KEY"] is None  # finalize() keeps one under instance/
    assert config["FIELDLOG_SMTP_URL"] == ""


def test_each_contract_variable_is_read(tmp_path):
    config = from_environment(
        str(tmp_path),
        {
            "FIELDLOG_DATABASE_URL": "postgresql://app@db:5432/fieldlog",
            "FIELDLOG_SECRET_KEY": "s3cret",
            "FIELDLOG_TIMEZONE": "Europe/Paris",
            "FIELDLOG_SMTP_URL": "smtp://mail.example.jp:587",
            "FIELDLOG_MAIL_FROM": "kpi@example.jp",
        },
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app@db:5432/fieldlog"
    assert config["SECRET_KEY"] == "s3cret"
    assert config["FIELDLOG_TIMEZONE"] == "Europe/Paris"
    assert config["FIELDLOG_SMTP_URL"] == "smtp://mail.example.jp:587"
    assert config["FIELDLOG_MAIL_FROM"] == "kpi@example.jp"


def test_the_factory_reads_the_environment_and_a_test_mapping_wins(tmp_path, monkeypatch):
    url = "sqlite:///" + str(Path(tmp_path) / "env.db")
    monkeypatch.setenv("FIELDLOG_DATABASE_URL", url)
    monkeypatch.setenv("FIELDLOG_SECRET_KEY", "from-env")
    monkeypatch.setenv("FIELDLOG_TIMEZONE", "Asia/Seoul")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert (app.config["SECRET_KEY"], app.config["FIELDLOG_TIMEZONE"]) == ("from-env", "Asia/Seoul")
    app = create_app({"FIELDLOG_TIMEZONE": "Asia/Tokyo", "SECRET_KEY": "t"})
    assert app.config["FIELDLOG_TIMEZONE"] == app.config["BABEL_DEFAULT_TIMEZONE"] == "Asia/Tokyo"


def test_every_connection_gets_its_settings(app):
    """SQLite: foreign keys and a busy timeout; PostgreSQL: no JIT (it costs more than it saves)."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
        else:
            assert conn.exec_driver_sql("SHOW jit").scalar() == "off"
            conn.rollback()  # a pooled connection's reset must not bring JIT back
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            assert conn.exec_driver_sql("SHOW jit").scalar() == "off"


def _readme_variables() -> list[str]:
    """The FIELDLOG_* names of README's Configuration table (what operators are told to set)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(FIELDLOG_[A-Z_]+)` \|", section, flags=re.MULTILINE)


SAMPLES = {
    "FIELDLOG_DATABASE_URL": "postgresql://app@db:5432/fieldlog",
    "FIELDLOG_SECRET_KEY": "s3cret",
    "FIELDLOG_TIMEZONE": "Europe/Paris",
    "FIELDLOG_SMTP_URL": "smtp://mail.example.jp:587",
    "FIELDLOG_MAIL_FROM": "kpi@example.jp",
    "FIELDLOG_REDIS_URL": "redis://127.0.0.1:6379/0",
    "FIELDLOG_HTTPS": "1",
    "FIELDLOG_PROXY_FIX": "2",
    "FIELDLOG_SCHEDULER": "off",
    "FIELDLOG_LOG_FORMAT": "text",
    "FIELDLOG_IMPORT_DIR": "/srv/shared/fieldlog-imports",
}


def test_every_variable_in_the_readme_table_is_read(tmp_path):
    """A documented variable that the app ignores fails silently in production; none may."""
    names = _readme_variables()
    assert sorted(names) == sorted(SAMPLES)
    default = from_environment(str(tmp_path), {})
    for name in names:
        changed = from_environment(str(tmp_path), {name: SAMPLES[name]})
        assert changed != default, f"{name} is documented but not read"
    assert (
        from_environment(str(tmp_path), {"FIELDLOG_IMPORT_DIR": "/srv/x"})["FIELDLOG_IMPORT_DIR"]
        == "/srv/x"
    )


def test_an_unknown_timezone_stops_the_app_at_start_with_its_name(tmp_path, monkeypatch):
    """A typo must not boot an app whose every dated page then fails with a 500."""
    monkeypatch.setenv("FIELDLOG_DATABASE_URL", "sqlite:///" + str(tmp_path / "tz.db"))
    monkeypatch.setenv("FIELDLOG_TIMEZONE", "Asia/Tokio")
    with pytest.raises(ValueError, match=r"FIELDLOG_TIMEZONE.*Asia/Tokio"):
        create_app({"SECRET_KEY": "t"})


def test_an_empty_variable_means_its_default(tmp_path):
    """'FIELDLOG_TIMEZONE=' in an EnvironmentFile is 'not set', not an invalid zone or sender."""
    config = from_environment(str(tmp_path), {"FIELDLOG_TIMEZONE": "", "FIELDLOG_MAIL_FROM": ""})
    assert config["FIELDLOG_TIMEZONE"] == "Asia/Tokyo"
    assert config["FIELDLOG_MAIL_FROM"] == "fieldlog@localhost"


@pytest.mark.parametrize("value", ["0", "off", "OFF", "false", "no", " off "])
def test_scheduler_switch_reads_every_usual_off_word(tmp_path, value):
    """As FIELDLOG_ACCESS_LOG does: 'false' must not leave the Monday mailer running."""
    assert (
        from_environment(str(tmp_path), {"FIELDLOG_SCHEDULER": value})["FIELDLOG_SCHEDULER"]
        is False
    )
    assert from_environment(str(tmp_path), {"FIELDLOG_SCHEDULER": ""})["FIELDLOG_SCHEDULER"] is True


@pytest.mark.parametrize(
    ("key", "weak"),
    [
        ("changeme", True),
        ("dev", True),
        ("short-but-random-9f2", True),
        ("a" * 64, True),
        ("9f2c1e7b4a6d8c0e3f5a7b9d1c3e5f7a", False),
    ],
)
def test_a_weak_secret_key_is_named_at_start(tmp_path, capfd, key, weak):
    from fieldlog.app.config import weak_secret

    assert (weak_secret(key) is not None) is weak
    create_app({"SECRET_KEY": key, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"})
    # The app's log handler writes to stderr (fieldlog.app.logs), not through the root logger.
    assert ("FIELDLOG_SECRET_KEY is weak" in capfd.readouterr().err) is weak


ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FIELDLOG_SECRET_KEY": "9f3c1a7e5b2d8046" * 4, "FIELDLOG_SCHEDULER": "off"}
    env.update(variables)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("variables", "says"),
    [
        ({"FIELDLOG_TIMEZONE": "Foo/Bar"}, "FIELDLOG_TIMEZONE: unknown time zone 'Foo/Bar'"),
        ({"FIELDLOG_DATABASE_URL": "foo://x"}, "FIELDLOG_DATABASE_URL: unknown database kind"),
        ({"FIELDLOG_DATABASE_URL": "postgresql://a:b@h:np/x"}, "FIELDLOG_DATABASE_URL: not a"),
        (
            {"FIELDLOG_DATABASE_URL": "postgresql://nobody:pw@127.0.0.1:1/x"},
            "FIELDLOG_DATABASE_URL: cannot connect to the database",
        ),
        (
            {"FIELDLOG_DATABASE_URL": "sqlite:////nonexistent-dir/x.db"},
            "FIELDLOG_DATABASE_URL: cannot connect to the database",
        ),
        ({"FIELDLOG_PROXY_FIX": "maybe"}, "FIELDLOG_PROXY_FIX: 'maybe' is not a number of"),
        ({"FIELDLOG_PROXY_FIX": "-1"}, "FIELDLOG_PROXY_FIX: '-1' is not a number of"),
        ({"FIELDLOG_PROXY_FIX": "²"}, "FIELDLOG_PROXY_FIX: '²' is not a number of"),
        ({"FIELDLOG_LOG_FORMAT": "xml"}, "FIELDLOG_LOG_FORMAT: 'xml' is neither json nor text"),
    ],
)
def test_a_bad_setting_stops_the_cli_with_one_line_naming_it(variables, says, tmp_path):
    args = ["-m", "flask", "--app", "fieldlog", "kpi", "show", "--period", "2026-W10"]
    result = _run(args, **{"FIELDLOG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", **variables})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(f"Error: {says}")
    assert "Traceback" not in result.stderr and ":pw@" not in result.stderr


def test_a_bad_setting_stops_the_cli_listing_and_the_wsgi_entry_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    listing = _run(["-m", "flask", "--app", "fieldlog", "--help"], FIELDLOG_TIMEZONE="Foo/Bar")
    assert (listing.returncode, listing.stderr) == (
        1,
        "Error: FIELDLOG_TIMEZONE: unknown time zone 'Foo/Bar' "
        "(an IANA name, for example Asia/Tokyo)\n",
    )
    # gunicorn stops on a worker's exit 3 ("worker failed to boot") instead of respawning it.
    served = _run(["-c", "import wsgi"], FIELDLOG_TIMEZONE="Foo/Bar", FIELDLOG_DATABASE_URL=url)
    assert served.returncode == 3
    assert served.stderr.startswith("FieldLog cannot start: FIELDLOG_TIMEZONE: unknown time zone")
    assert "Traceback" not in served.stderr


def test_db_upgrade_against_an_unreachable_database_is_one_line():
    """Flask-Migrate's `db` group (a plugin of the flask command) says it like ours do."""
    url = "postgresql://nobody:pw@127.0.0.1:1/x"
    result = _run(["-m", "flask", "--app", "fieldlog", "db", "upgrade"], FIELDLOG_DATABASE_URL=url)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: FIELDLOG_DATABASE_URL: cannot connect to the database")
    assert "Traceback" not in result.stderr and ":pw@" not in result.stderr


@pytest.mark.parametrize(
    ("url", "pings"),
    [("sqlite:///{tmp}/f.db", False), ("postgresql://u@127.0.0.1:5432/fieldlog", True)],
)
def test_pooled_connections_are_pinged_only_where_a_server_can_drop_them(tmp_path, url, pings):
    config = {"SQLALCHEMY_DATABASE_URI": url.format(tmp=tmp_path), "SECRET_KEY": "k" * 40}
    app = create_app(config)
    assert app.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is pings
    told = create_app({**config, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not pings}})
    assert told.config["SQLALCHEMY_ENGINE_OPTIONS"]["pool_pre_ping"] is (not pings)
