"""Load benchmark: simulated reps post visits and browse against gunicorn on loopback.

For each database (SQLite, PostgreSQL) it starts gunicorn with FieldLog, runs locust with N
reps for S seconds, then checks that every acknowledged client_id is stored exactly once. In
the same run it measures a trivial Flask JSON endpoint under the same gunicorn settings and
prints the ratio.

    .venv/bin/python benchmarks/load.py --users 50 --seconds 60 [--db sqlite|postgresql|both]
        [--workers 2 --threads 8 --worker-class gthread]

Besides locust's client-side times per request kind it prints the CPU time gunicorn (all its
workers) and locust spent per request, and the app's own time per request from its JSON
request log: on a shared 2-core machine those say where the time went when the percentiles
are dominated by waiting for a core. Ports come from FIELDLOG_LOAD_PORTS (default 5900-5949).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
PASSWORD = "load-test-pass"
PG_ADMIN = os.environ.get("FIELDLOG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KINDS = (
    ("POST /api/v1/visits", "POST visit"),
    ("GET /", "Today"),
    ("/api/v1/session", "session"),
    ("GET /ping", "ping"),
)
LOGIN = "/login"


def free_port() -> int:
    """A free port of FIELDLOG_LOAD_PORTS (first-last; the machine's engineers share ports)."""
    first, last = (int(p) for p in os.environ.get("FIELDLOG_LOAD_PORTS", "5900-5949").split("-"))
    for port in range(first, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}-{last}")


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
    from fieldlog.app.extensions import db
    from fieldlog.models import Branch, Customer, User
    from fieldlog.services.accounts import set_password

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


def gunicorn_args(args: argparse.Namespace) -> list[str]:
    out = ["-w", str(args.workers), "-k", args.worker_class, "--graceful-timeout", "5"]
    out += ["--access-logfile", "/dev/null"]
    if args.worker_class == "gthread":
        out += ["--threads", str(args.threads)]
    return out


def start_gunicorn(
    app_spec: str, options: list[str], env: dict[str, str], port: int, log: Path
) -> subprocess.Popen:
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), *options, "-b", f"127.0.0.1:{port}", app_spec],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    probe = "/ping" if "baseline" in app_spec else "/healthz"
    # Loading the app took over 30 s per worker with the shared machine at load 20.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=1)
            # Every worker up (the probe answers as soon as the first one is).
            workers = int(options[options.index("-w") + 1])
            if len(process_tree(process.pid)) > workers:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(40)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def process_tree(pid: int) -> list[int]:
    """A process and its children (gunicorn's master and workers)."""
    out = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(child) for child in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def settle(
    server: subprocess.Popen, quiet: float = 0.05, limit: float = 180.0
) -> tuple[float, float]:
    """Wait until gunicorn's workers are idle (their start-up work done: loading the app, the
    forecasts they warm, docs/kgi.md); (seconds waited, CPU seconds the tree spent meanwhile).

    Idle: under ``quiet`` CPU seconds per second over a 1-second window, twice in a row."""
    pids = process_tree(server.pid)
    first = last = cpu_seconds(pids)
    started = time.monotonic()
    calm = 0
    while time.monotonic() - started < limit and calm < 2:
        time.sleep(1.0)
        now = cpu_seconds(process_tree(server.pid))
        calm = calm + 1 if now - last < quiet else 0
        last = now
    return time.monotonic() - started, last - first


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_locust(
    user_class: str,
    port: int,
    users: int,
    seconds: int,
    prefix: Path,
    env: dict[str, str],
    server: subprocess.Popen,
) -> dict[str, float]:
    """Run locust against the server; client-side percentiles per kind and CPU of both sides."""
    timings = prefix.with_suffix(".timings.json")
    env = {**env, "FIELDLOG_TIMINGS": str(timings), "FIELDLOG_LOAD_SECONDS": str(seconds)}
    window = prefix.with_suffix(".window")
    env["FIELDLOG_WINDOW"] = str(window)
    server_pids = process_tree(server.pid)
    server_cpu: dict[str, float] = {}
    locust_cpu: dict[str, float] = {}
    loads: list[float] = []
    result: dict[str, float] = {}
    command = [
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
        f"{seconds + 600}s",  # a cap: the locustfile quits after the measured window
        "--host",
        f"http://127.0.0.1:{port}",
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    locust = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def watch() -> None:
        """CPU time of server and locust when the measured window opens and closes."""
        while "end" not in server_cpu and locust.poll() is None:
            lines = window.read_text().splitlines() if window.exists() else []
            for mark, at in (line.split() for line in lines if line.count(" ") == 1):
                if mark not in server_cpu:
                    result[mark] = float(at)
                    server_cpu[mark] = cpu_seconds(server_pids)
                    locust_cpu[mark] = cpu_seconds([locust.pid])
                    loads.append(os.getloadavg()[0])
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    locust.wait()
    watcher.join(1)
    for side in (server_cpu, locust_cpu):
        side.setdefault("start", 0.0)
        side.setdefault("end", side["start"])
    recorded = json.loads(timings.read_text())
    rows = [(name, ms, ok) for name, ms, ok in recorded["timings"]]
    logins = [ms for name, ms, _ok in recorded["logins"] if name == LOGIN]
    work = [ms for _name, ms, _ok in rows]
    result |= {
        "requests": len(rows),
        "failures": sum(1 for _name, _ms, ok in rows if not ok)
        + sum(1 for _name, _ms, ok in recorded["logins"] if not ok),
        "rps": len(rows) / max(1e-9, recorded["seconds"]),
        "p50": percentile(work, 0.50),
        "p99": percentile(work, 0.99),
        "login_p99": percentile(logins, 0.99),
        "server_cpu_ms": (server_cpu["end"] - server_cpu["start"]) * 1000 / max(1, len(rows)),
        "locust_cpu_ms": (locust_cpu["end"] - locust_cpu["start"]) * 1000 / max(1, len(rows)),
        "load": max(loads or [os.getloadavg()[0]]),
    }
    for name, key in KINDS:
        times = [ms for kind, ms, _ok in rows if kind == name]
        if times:
            result[f"{key}_p50"] = percentile(times, 0.50)
            result[f"{key}_p99"] = percentile(times, 0.99)
    return result


def server_times(log: Path, start: float, end: float) -> dict[str, tuple[float, float]]:
    """p50/p99 of the app's own duration_ms per request kind in the window, from its log."""
    by_kind: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        if '"duration_ms"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        at = datetime.fromisoformat(entry["time"]).timestamp()
        if not start <= at <= end:
            continue
        name = f"{entry['method']} {entry['path']}"
        by_kind.setdefault(name, []).append(entry["duration_ms"])
    return {
        name: (statistics.median(times), percentile(times, 0.99)) for name, times in by_kind.items()
    }


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


def row(label: str, stats: dict[str, float], baseline: dict[str, float]) -> str:
    kinds = "".join(
        f"{stats.get(key + '_p50', 0):>7.0f}/{stats.get(key + '_p99', 0):<6.0f}"
        for key in ("POST visit", "Today", "session")
    )
    return (
        f"{label:<20}{stats['requests']:>7}{stats['failures']:>5}{stats['rps']:>7.1f}"
        f"{stats['rps'] / baseline['rps']:>6.2f}{stats['p50']:>6.0f}{stats['p99']:>6.0f}"
        f"{stats['p99'] / max(1.0, baseline['p99']):>6.1f}{kinds}"
        f"{stats['server_cpu_ms']:>7.1f}{stats['locust_cpu_ms']:>7.1f}{stats['load']:>6.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn -w")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn --threads (gthread)")
    parser.add_argument("--worker-class", default="gthread", help="gunicorn -k: gthread or sync")
    parser.add_argument("--keep-logs", type=Path, help="copy gunicorn's logs into this folder")
    args = parser.parse_args()
    ensure_locust()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    options = gunicorn_args(args)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base_env = {**os.environ, "FIELDLOG_LOAD_REPS": str(args.users)}
        port = free_port()
        server = start_gunicorn(
            "benchmarks.baseline_app:app", options, base_env, port, work / "base.log"
        )
        try:
            baseline = run_locust(
                "Baseline", port, args.users, args.seconds, work / "base", base_env, server
            )
        finally:
            stop(server)
        print(f"gunicorn {' '.join(options)}; {args.users} users for {args.seconds} s; {ROOT}")
        print(
            "Client-side ms (p50/p99 excludes the 50 logins); server and locust CPU in ms per"
            " request; load = 1-min load average"
        )
        print(
            f"{'target':<20}{'req':>7}{'fail':>5}{'req/s':>7}{'×rps':>6}{'p50':>6}{'p99':>6}"
            f"{'×p99':>6}{'POST p50/p99':>14}{'Today p50/p99':>14}{'session':>14}"
            f"{'srvCPU':>7}{'lcCPU':>7}{'load':>6}"
        )
        print(row("baseline /ping", baseline, baseline))

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
                server = start_gunicorn("fieldlog:create_app()", options, env, port, log)
                try:
                    stats = run_locust(
                        "Rep", port, args.users, args.seconds, work / kind, env, server
                    )
                finally:
                    stop(server)
                acked, stored, problems = verify(url, acks)
                text = log.read_text()
                locked = text.count("database is locked")
                errors = text.count('"level": "error"')
                print(row(f"FieldLog {kind}", stats, baseline))
                print(
                    f"{'':<20}login p99 {stats['login_p99']:.0f} ms; acked={acked} "
                    f"stored={stored} problems={problems}; log: locked={locked} errors={errors}"
                )
                times = server_times(log, stats.get("start", 0), stats.get("end", 1e12))
                print(
                    f"{'':<20}in-app time p50/p99 ms: "
                    + "; ".join(
                        f"{name} {p50:.1f}/{p99:.1f}"
                        for name, (p50, p99) in sorted(times.items())
                        if name in ("POST /api/v1/visits", "GET /", "GET /api/v1/session")
                    )
                )
                if args.keep_logs:
                    args.keep_logs.mkdir(parents=True, exist_ok=True)
                    (args.keep_logs / f"{kind}.log").write_text(text)
            finally:
                drop()


if __name__ == "__main__":
    main()
