"""Load benchmark: simulated reps post visits and browse against gunicorn on loopback.

For each database (SQLite, PostgreSQL) it starts gunicorn with FieldLog, runs locust with N
reps for S seconds, then checks that every acknowledged client_id is stored exactly once. In
the same run it measures a trivial Flask JSON endpoint under the same gunicorn settings and
prints the ratio.

    .venv/bin/python benchmarks/load.py --users 50 --seconds 60 [--db sqlite|postgresql|both]
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "load-test-pass"
PG_ADMIN = os.environ.get("FIELDLOG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
GUNICORN = ["-w", "2", "-k", "gthread", "--threads", "8", "--access-logfile", "/dev/null"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_locust() -> None:
    if not (BIN / "locust").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "locust"], check=True)


def prepare_database(kind: str, workdir: Path) -> tuple[str, callable]:
    """An empty, migrated database and a function that drops it."""
    import sqlalchemy as sa

    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'load.db'}"
        drop = lambda: None  # noqa: E731 (the temp dir goes away)
    else:
        name = f"fieldlog_load_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(
            sa.make_url(PG_ADMIN).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(PG_ADMIN).set(database=name).render_as_string(False)

        def drop() -> None:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    env = {**os.environ, "FIELDLOG_DATABASE_URL": url, "FIELDLOG_SECRET_KEY": "bench"}
    subprocess.run(
        [str(BIN / "flask"), "--app", "fieldlog", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return url, drop


def seed(url: str, reps: int, customers_per_rep: int) -> None:
    from fieldlog import create_app
    from fieldlog.accounts import set_password
    from fieldlog.extensions import db
    from fieldlog.models import Branch, Customer, User

    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "FIELDLOG_SCHEDULER": False}
    )
    with app.app_context():
        branches = [Branch(code=f"LB{i}", name=f"負荷支店{i}") for i in range(1, 6)]
        db.session.add_all(branches)
        for n in range(1, reps + 1):
            branch = branches[n % len(branches)]
            rep = User(email=f"rep{n:02d}@load.test", name=f"営業{n}", role="rep", branch=branch)
            set_password(rep, PASSWORD)
            db.session.add(rep)
            for c in range(customers_per_rep):
                db.session.add(
                    Customer(
                        code=f"L{n:02d}-{c:03d}", name=f"負荷顧客{n}-{c}", branch=branch, rep=rep
                    )
                )
        db.session.commit()
        db.engine.dispose()


def start_gunicorn(app_spec: str, env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), *GUNICORN, "-b", f"127.0.0.1:{port}", app_spec],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/ping"
                if "baseline" in app_spec
                else f"http://127.0.0.1:{port}/healthz",
                timeout=1,
            )
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")


def run_locust(
    user_class: str, port: int, users: int, seconds: int, prefix: Path, env: dict[str, str]
) -> dict[str, float]:
    subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "benchmarks" / "locustfile.py"),
            user_class,
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{port}",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
    )
    with open(f"{prefix}_stats.csv") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    total = rows["Aggregated"]
    result = {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "p50": float(total["50%"]),
        "p99": float(total["99%"]),
    }
    for key, name in (("post", "POST /api/v1/visits"), ("today", "GET /")):
        if name in rows:
            result[f"{key}_p50"] = float(rows[name]["50%"])
            result[f"{key}_p99"] = float(rows[name]["99%"])
    return result


def verify(url: str, acks_file: Path) -> tuple[int, int, int]:
    """(acknowledged, stored, problems): each acknowledged client_id stored exactly once."""
    import sqlalchemy as sa

    acked = set(acks_file.read_text().split()) if acks_file.exists() else set()
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        counts = dict(
            conn.exec_driver_sql("SELECT client_id, COUNT(*) FROM visit GROUP BY client_id").all()
        )
    engine.dispose()
    problems = sum(1 for cid in acked if counts.get(cid) != 1)
    problems += sum(1 for cid, n in counts.items() if n != 1)
    return len(acked), sum(counts.values()), problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    ensure_locust()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base_env = {**os.environ, "FIELDLOG_LOAD_REPS": str(args.users)}
        port = free_port()
        server = start_gunicorn("benchmarks.baseline_app:app", base_env, port, work / "base.log")
        try:
            baseline = run_locust(
                "Baseline", port, args.users, args.seconds, work / "base", base_env
            )
        finally:
            server.terminate()
            server.wait(10)
        print(f"gunicorn {' '.join(GUNICORN)}; {args.users} users for {args.seconds} s")
        print(
            f"{'target':<22}{'req':>8}{'fail':>6}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'POST p99':>10}{'ratio rps':>11}  stored check"
        )
        print(
            f"{'baseline /ping':<22}{baseline['requests']:>8}{baseline['failures']:>6}"
            f"{baseline['rps']:>9.1f}{baseline['p50']:>8.0f}{baseline['p99']:>8.0f}"
        )

        for kind in kinds:
            url, drop = prepare_database(kind, work)
            try:
                seed(url, args.users, 10)
                acks = work / f"{kind}.acks"
                env = {
                    **base_env,
                    "FIELDLOG_DATABASE_URL": url,
                    "FIELDLOG_SECRET_KEY": "bench",
                    "FIELDLOG_SCHEDULER": "off",
                    "FIELDLOG_ACKS": str(acks),
                    "FIELDLOG_LOAD_PASSWORD": PASSWORD,
                }
                port = free_port()
                log = work / f"{kind}.log"
                server = start_gunicorn("fieldlog:create_app()", env, port, log)
                try:
                    stats = run_locust("Rep", port, args.users, args.seconds, work / kind, env)
                finally:
                    server.terminate()
                    server.wait(10)
                acked, stored, problems = verify(url, acks)
                locked = log.read_text().count("database is locked")
                print(
                    f"{'FieldLog ' + kind:<22}{stats['requests']:>8}{stats['failures']:>6}"
                    f"{stats['rps']:>9.1f}{stats['p50']:>8.0f}{stats['p99']:>8.0f}"
                    f"{stats.get('post_p99', 0):>10.0f}{stats.get('today_p99', 0):>10.0f}"
                    f"{stats['rps'] / baseline['rps']:>11.2f}"
                    f"  acked={acked} stored={stored} problems={problems} locked={locked}"
                )
            finally:
                drop()


if __name__ == "__main__":
    main()
